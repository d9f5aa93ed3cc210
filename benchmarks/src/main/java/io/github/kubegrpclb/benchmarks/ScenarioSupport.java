package io.github.kubegrpclb.benchmarks;

import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/** Waiting and channel teardown shared by the scenario harnesses; static, any thread. */
final class ScenarioSupport {
  private ScenarioSupport() {}

  /** Lets {@code duration} pass while load runs (a measurement window, not a wait for state). */
  static void awaitFor(Duration duration) {
    long start = System.nanoTime();
    Awaitility.await()
        .atMost(duration.plusSeconds(5))
        .pollInterval(Duration.ofMillis(10))
        .until(() -> System.nanoTime() - start >= duration.toNanos());
  }

  /** Shuts {@code channel} down now and waits up to 10 s for it to terminate. */
  static void close(ManagedChannel channel) {
    channel.shutdownNow();
    try {
      channel.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
