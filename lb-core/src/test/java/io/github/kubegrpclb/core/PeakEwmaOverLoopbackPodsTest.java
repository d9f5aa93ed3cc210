package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * peak_ewma on a real channel over loopback pods with its defaults and fail-fast RPCs: a pod whose
 * first RPC was slow is probed again, and a brownout pod is kept out. Bounds are shares and ratios
 * with margin: the test machine has 2 shared cores.
 */
class PeakEwmaOverLoopbackPodsTest {
  @RegisterExtension final Cleanup cleanup = new Cleanup();

  private LoopbackPods pods(int count) {
    LoopbackPods pods = LoopbackPods.start(count);
    cleanup.add(pods);
    return pods;
  }

  private ManagedChannel peakEwma(LoopbackPods pods) {
    return cleanup.channel(
        new ManualNameResolverProvider(pods.addressGroups())
            .channelBuilder()
            .defaultServiceConfig(ServiceConfigs.policy("peak_ewma"))
            .build());
  }

  private static long totalCalls(LoopbackPods pods) {
    return pods.all().stream().mapToLong(LoopbackPod::calls).sum();
  }

  @Test
  void podWhoseFirstRpcWasCold_oneSequentialCaller_getsAboutAThirdOfTheNextRpcs() {
    LoopbackPods pods = pods(3);
    LoopbackPod cold = pods.get(1);
    cold.setColdStart(Duration.ofMillis(25), Duration.ofMillis(300)); // a JVM warming up
    ManagedChannel channel = peakEwma(pods);

    Map<String, Integer> first = new HashMap<>();
    Map<String, Integer> next = new HashMap<>();
    for (int i = 0; i < 3000; i++) {
      String pod =
          PodService.whoami(channel, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS));
      (i < 1000 ? first : next).merge(pod, 1, Integer::sum);
    }

    // Before: 1 of 1,000, its first sample held by the 10 s decay while P2C never picked it.
    assertThat(next.getOrDefault(cold.name(), 0))
        .as("RPCs 1,000 to 3,000: %s (first 1,000: %s)", next, first)
        .isGreaterThan(300); // fair: 667
  }

  @Test
  @SuppressWarnings("try") // the load runs for the scope
  void brownout_oneOf4PodsPlus100ms_under1PercentAndP99Within1_5xOfHealthy() {
    LoopbackPods pods = pods(4);
    pods.all().forEach(pod -> pod.setLatency(Duration.ofMillis(2)));
    LoopbackPod slow = pods.get(2);
    ManagedChannel channel = peakEwma(pods);

    try (RpcLoad load = RpcLoad.start(channel, 8, CallOptions.DEFAULT)) {
      awaitFor(Duration.ofSeconds(1)); // warm-up
      load.reset();
      awaitFor(Duration.ofSeconds(3));
      RpcLoad.Result healthy = load.snapshot();

      slow.setLatency(Duration.ofMillis(102));
      load.reset();
      long slowBefore = slow.calls();
      long totalBefore = totalCalls(pods);
      awaitFor(Duration.ofSeconds(3));
      long slowCalls = slow.calls() - slowBefore;
      long calls = totalCalls(pods) - totalBefore;
      RpcLoad.Result brownout = load.snapshot();
      slow.setLatency(Duration.ofMillis(2));

      assertThat((double) slowCalls / calls)
          .as("slow pod's share: %d of %d", slowCalls, calls)
          .isLessThan(0.01);
      double ratio =
          (double) brownout.latencyPercentile(0.99).toNanos()
              / healthy.latencyPercentile(0.99).toNanos();
      assertThat(ratio)
          .as("p99 %s during the brownout vs %s", brownout.latencyPercentile(0.99), healthy)
          .isLessThan(1.5);
    }
  }

  /** Lets {@code duration} pass while load runs (a measurement window, not a wait for state). */
  private static void awaitFor(Duration duration) {
    long start = System.nanoTime();
    Awaitility.await()
        .atMost(duration.plusSeconds(5))
        .pollInterval(Duration.ofMillis(10))
        .until(() -> System.nanoTime() - start >= duration.toNanos());
  }
}
