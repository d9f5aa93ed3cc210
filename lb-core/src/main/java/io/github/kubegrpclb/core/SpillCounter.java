package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.Status;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One endpoint's unary RPCs as {@link ZoneSpill} measures them: in flight now, and completed so
 * far. It is the endpoint's {@link EndpointTelemetry} with the two counters added, so the
 * endpoint's {@link RpcTracer} feeds it: RPCs count from their headers out until they close, as
 * everywhere else.
 *
 * <p>{@link #rpcStarted} and {@link #rpcFinished} run on RPC threads, lock-free; the window fields
 * are read and written only by {@link ZoneSpill} in the SynchronizationContext.
 */
final class SpillCounter implements EndpointTelemetry {
  private final EndpointTelemetry delegate;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicLong completed = new AtomicLong();
  // ZoneSpill's window, SynchronizationContext only.
  long windowCompletedBase;

  SpillCounter(EndpointTelemetry delegate) {
    this.delegate = delegate;
  }

  int inFlight() {
    return inFlight.get();
  }

  long completed() {
    return completed.get();
  }

  @Override
  public void rpcStarted() {
    inFlight.incrementAndGet();
    delegate.rpcStarted();
  }

  @Override
  public void rpcFinished(Status.Code code) {
    completed.incrementAndGet();
    inFlight.decrementAndGet();
    delegate.rpcFinished(code);
  }

  /** Nothing: the endpoint closes its own telemetry, the delegate, when it leaves. */
  @Override
  public void close() {}
}
