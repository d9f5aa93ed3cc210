package io.github.kubegrpclb.testing;

import io.grpc.NameResolver;
import io.grpc.NameResolver.ResolutionResult;
import io.grpc.Status;
import io.grpc.StatusOr;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A {@link NameResolver.Listener2} for resolver tests: records every result in order, an {@link
 * #onError} as a result holding the error (as grpc-java's default {@code onResult2} does).
 *
 * <p>Thread-safe: the resolver calls it in its synchronization context, the test reads it from its
 * own thread.
 */
public final class RecordingListener extends NameResolver.Listener2 {
  private final List<ResolutionResult> results = new CopyOnWriteArrayList<>();

  @Override
  public void onResult(ResolutionResult result) {
    results.add(result);
  }

  @Override
  public void onError(Status error) {
    results.add(
        ResolutionResult.newBuilder().setAddressesOrError(StatusOr.fromStatus(error)).build());
  }

  /** Every result so far, a live read-only view. */
  public List<ResolutionResult> results() {
    return Collections.unmodifiableList(results);
  }
}
