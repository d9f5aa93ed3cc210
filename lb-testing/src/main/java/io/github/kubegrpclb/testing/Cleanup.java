package io.github.kubegrpclb.testing;

import io.grpc.ManagedChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Closes what a test opened (pods, servers, channels), newest first, after each test, even when the
 * test failed. Register with {@code @RegisterExtension final Cleanup cleanup = new Cleanup();}.
 *
 * <p>Not thread-safe: add from the test thread.
 */
public final class Cleanup implements AfterEachCallback {
  private final List<AutoCloseable> resources = new ArrayList<>();

  /** Closes {@code resource} after the test; returns it. */
  public <T extends AutoCloseable> T add(T resource) {
    resources.add(resource);
    return resource;
  }

  /** Shuts {@code channel} down (now) after the test and waits up to 10 s; returns it. */
  public <T extends ManagedChannel> T channel(T channel) {
    resources.add(() -> channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    return channel;
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    Exception first = null;
    for (int i = resources.size() - 1; i >= 0; i--) {
      try {
        resources.get(i).close();
      } catch (Exception e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    resources.clear();
    if (first != null) {
      throw first;
    }
  }
}
