package io.github.kubegrpclb.benchmarks;

import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.Locale;

/**
 * The routing-quality rows of {@link ScenarioBenchmark}, in the shapes of ParkerHarrelson's
 * grpc-peak-ewma-lb benchmarks: 12 pods (10 at 2 ms, one at 20 ms, one failing every call with
 * UNIMPLEMENTED) under 16 closed-loop callers; a brownout (one of 4 pods at 2 ms gets +100 ms for 3
 * s of a 10 s run); and equal pods' shares. Each policy with its defaults, fresh pods and a fresh
 * channel per cell, grpc-java's round_robin and least_request_experimental in the same run.
 */
public final class RoutingQualityScenarios {
  private static final String[] POLICIES = {
    "round_robin", "least_request_experimental", "kube_round_robin", "peak_ewma"
  };
  private static final int CALLERS = 16;
  private static final Duration BASE = Duration.ofMillis(2);

  private RoutingQualityScenarios() {}

  /**
   * Prints only these rows (ScenarioBenchmark prints them with the rest); arguments, if any, name
   * the policies to run instead of all four.
   */
  public static void main(String[] args) {
    System.out.println(markdown(args.length > 0 ? args : POLICIES));
    System.exit(0);
  }

  static String markdown() {
    return markdown(POLICIES);
  }

  private static String markdown(String[] policies) {
    StringBuilder md =
        new StringBuilder(
            "## Routing quality: 12 pods, one slow, one failing (16 closed-loop callers)\n\n"
                + "10 pods answer in 2 ms, one in 20 ms, one fails every call with UNIMPLEMENTED"
                + " at once; fail-fast RPCs, 5 s measured after 1 s of warm-up. Healthy p99: the"
                + " same policy over 12 pods at 2 ms, measured just before. Load average at start: "
                + loadAverage()
                + ".\n\n"
                + "| policy | success | p99 ms | p99 / healthy p99 | slow pod's share"
                + " | failing pod's share | RPCs/s |\n|---|---|---|---|---|---|---|\n");
    for (String policy : policies) {
      md.append(routingQuality(policy));
    }
    md.append(
        "\n## Brownout: one of 4 pods +100 ms for 3 s of a 10 s run (16 closed-loop callers)\n\n"
            + "4 pods answer in 2 ms; from 3.5 s to 6.5 s one answers in 102 ms. p99 over the"
            + " 10 s against the same policy's p99 over 10 s without the brownout, measured just"
            + " before; the slow pod's share of the calls during the 3 s. Load average at start: "
            + loadAverage()
            + ".\n\n"
            + "| policy | p99 ms | healthy p99 ms | p99 / healthy p99 | slow pod's share"
            + " during the brownout | RPCs/s |\n|---|---|---|---|---|---|\n");
    for (String policy : policies) {
      md.append(brownout(policy));
    }
    md.append(
        "\n## Equal pods: 5 identical pods, 8 closed-loop callers, 5 s\n\n"
            + "The least- and most-used pod's share of the calls (fair: 20 %). Load average at"
            + " start: "
            + loadAverage()
            + ".\n\n| policy | lowest share | highest share |\n|---|---|---|\n");
    for (String policy : policies) {
      md.append(equalPods(policy));
    }
    return md.append('\n').toString();
  }

  private static String routingQuality(String policy) {
    double healthyP99;
    try (LoopbackPods pods = LoopbackPods.start(12)) {
      pods.all().forEach(pod -> pod.setLatency(BASE));
      healthyP99 = measure(pods, policy, null, null).p99Millis;
    }
    try (LoopbackPods pods = LoopbackPods.start(12)) {
      pods.all().forEach(pod -> pod.setLatency(BASE));
      LoopbackPod slow = pods.get(10);
      LoopbackPod failing = pods.get(11);
      slow.setLatency(Duration.ofMillis(20));
      failing.setFailWith(Status.Code.UNIMPLEMENTED, null);
      Window w = measure(pods, policy, slow, failing);
      return String.format(
          Locale.ROOT,
          "| %s | %.2f %% | %.2f | %.2f | %.2f %% | %.2f %% | %.0f |%n",
          policy,
          100.0 * w.succeeded / Math.max(1, w.succeeded + w.failed),
          w.p99Millis,
          w.p99Millis / healthyP99,
          100 * w.shareA,
          100 * w.shareB,
          w.succeeded / w.seconds);
    }
  }

  @SuppressWarnings("try") // the load runs for the scope
  private static String brownout(String policy) {
    double healthyP99;
    try (LoopbackPods pods = LoopbackPods.start(4)) {
      pods.all().forEach(pod -> pod.setLatency(BASE));
      ManagedChannel channel = channel(pods, policy);
      try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
        ScenarioSupport.awaitFor(Duration.ofSeconds(1));
        load.reset();
        ScenarioSupport.awaitFor(Duration.ofSeconds(10));
        healthyP99 = millis(load.snapshot().latencyPercentile(0.99));
      } finally {
        ScenarioSupport.close(channel);
      }
    }
    try (LoopbackPods pods = LoopbackPods.start(4)) {
      pods.all().forEach(pod -> pod.setLatency(BASE));
      LoopbackPod slow = pods.get(1);
      ManagedChannel channel = channel(pods, policy);
      try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
        ScenarioSupport.awaitFor(Duration.ofSeconds(1));
        load.reset();
        long start = System.nanoTime();
        ScenarioSupport.awaitFor(Duration.ofMillis(3500));
        long slowBefore = slow.calls();
        long totalBefore = total(pods);
        slow.setLatency(BASE.plusMillis(100));
        ScenarioSupport.awaitFor(Duration.ofSeconds(3));
        slow.setLatency(BASE);
        double share = (double) (slow.calls() - slowBefore) / (total(pods) - totalBefore);
        ScenarioSupport.awaitFor(Duration.ofMillis(3500));
        RpcLoad.Result result = load.snapshot();
        double seconds = (System.nanoTime() - start) / 1e9;
        double p99 = millis(result.latencyPercentile(0.99));
        return String.format(
            Locale.ROOT,
            "| %s | %.2f | %.2f | %.2f | %.2f %% | %.0f |%n",
            policy,
            p99,
            healthyP99,
            p99 / healthyP99,
            100 * share,
            result.succeeded() / seconds);
      } finally {
        ScenarioSupport.close(channel);
      }
    }
  }

  @SuppressWarnings("try") // the load runs for the scope
  private static String equalPods(String policy) {
    try (LoopbackPods pods = LoopbackPods.start(5)) {
      ManagedChannel channel = channel(pods, policy);
      try (RpcLoad load = RpcLoad.start(channel, 8, CallOptions.DEFAULT)) {
        ScenarioSupport.awaitFor(Duration.ofSeconds(1));
        long[] before = pods.all().stream().mapToLong(LoopbackPod::calls).toArray();
        ScenarioSupport.awaitFor(Duration.ofSeconds(5));
        double total = 0;
        double min = Double.MAX_VALUE;
        double max = 0;
        long[] calls = new long[before.length];
        for (int i = 0; i < before.length; i++) {
          calls[i] = pods.get(i).calls() - before[i];
          total += calls[i];
        }
        for (long c : calls) {
          min = Math.min(min, c / total);
          max = Math.max(max, c / total);
        }
        return String.format(
            Locale.ROOT, "| %s | %.1f %% | %.1f %% |%n", policy, 100 * min, 100 * max);
      } finally {
        ScenarioSupport.close(channel);
      }
    }
  }

  /** What one measured window saw; shares are of the calls reaching pods. */
  private record Window(
      long succeeded,
      long failed,
      double p99Millis,
      double shareA,
      double shareB,
      double seconds) {}

  @SuppressWarnings("try") // the load runs for the scope
  private static Window measure(LoopbackPods pods, String policy, LoopbackPod a, LoopbackPod b) {
    ManagedChannel channel = channel(pods, policy);
    try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
      ScenarioSupport.awaitFor(Duration.ofSeconds(1));
      load.reset();
      long aBefore = a == null ? 0 : a.calls();
      long bBefore = b == null ? 0 : b.calls();
      long totalBefore = total(pods);
      long start = System.nanoTime();
      ScenarioSupport.awaitFor(Duration.ofSeconds(5));
      RpcLoad.Result result = load.snapshot();
      double seconds = (System.nanoTime() - start) / 1e9;
      double total = Math.max(1, total(pods) - totalBefore);
      return new Window(
          result.succeeded(),
          result.failures(),
          millis(result.latencyPercentile(0.99)),
          a == null ? 0 : (a.calls() - aBefore) / total,
          b == null ? 0 : (b.calls() - bBefore) / total,
          seconds);
    } finally {
      ScenarioSupport.close(channel);
    }
  }

  private static long total(LoopbackPods pods) {
    return pods.all().stream().mapToLong(LoopbackPod::calls).sum();
  }

  private static ManagedChannel channel(LoopbackPods pods, String policy) {
    return new ManualNameResolverProvider(pods.addressGroups())
        .channelBuilder()
        .defaultServiceConfig(ServiceConfigs.policy(policy))
        .build();
  }

  private static double millis(Duration duration) {
    return duration.toNanos() / 1e6;
  }

  private static String loadAverage() {
    double load =
        java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    return String.format(Locale.ROOT, "%.2f", load);
  }
}
