package io.github.kubegrpclb.core;

import io.github.kubegrpclb.testing.fleet.Features;
import io.github.kubegrpclb.testing.fleet.FleetPolicy;
import io.github.kubegrpclb.testing.fleet.FleetReport;
import io.github.kubegrpclb.testing.fleet.FleetRun;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The long randomised run of the fleet-event harness (docs/fleet-harness.md): for each seed, a
 * random fleet goes through a random sequence of fleet events, for both policies and each feature
 * set, and every violated invariant is printed with its seed (replay one with {@code FleetRun
 * .randomSequence(policy, features, seed, events)}). The policies are built as their providers
 * build them, on the simulation's clock; the class lives in lb-core's package for that.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar io.github.kubegrpclb.core.FleetChaos
 * [seeds=200] [events=8] [threads=2]}; exits 1 when any invariant broke.
 */
public final class FleetChaos {
  private FleetChaos() {}

  public static void main(String[] args) throws InterruptedException, ExecutionException {
    int seeds = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    int events = args.length > 1 ? Integer.parseInt(args[1]) : 8;
    int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
    List<Features> featureSets =
        List.of(Features.DEFAULTS, Features.NO_SLOW_START, Features.NO_EJECTION, Features.ALL_OFF);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    List<Future<FleetReport>> runs = new ArrayList<>();
    long started = System.nanoTime();
    try {
      for (long seed = 1; seed <= seeds; seed++) {
        for (FleetPolicy policy : List.of(kubeRoundRobin(), peakEwma())) {
          for (Features features : featureSets) {
            long s = seed;
            runs.add(pool.submit(() -> FleetRun.randomSequence(policy, features, s, events)));
          }
        }
      }
      int failed = 0;
      int violations = 0;
      for (Future<FleetReport> run : runs) {
        FleetReport report = run.get();
        if (!report.passed()) {
          failed++;
          violations += report.violations().size();
          System.out.print(report.summary());
        }
      }
      System.out.printf(
          Locale.ROOT,
          "%d runs (%d seeds x 2 policies x %d feature sets, %d events each), %d with violations"
              + " (%d violated windows), %.0f s%n",
          runs.size(),
          seeds,
          featureSets.size(),
          events,
          failed,
          violations,
          (System.nanoTime() - started) / 1e9);
      if (failed > 0) {
        System.exit(1);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** As {@link KubeRoundRobinLoadBalancerProvider} builds it, on the simulation's clock. */
  static FleetPolicy kubeRoundRobin() {
    return FleetPolicy.of(
        new KubeRoundRobinLoadBalancerProvider(),
        (helper, clock, random) ->
            HealthChecking.wrap(
                helper,
                h -> KubeRoundRobinPolicy.balancer(h, random, clock, ReadmissionProbe.INSTANCE)),
        EndpointAttributes.ZONE_HINTS,
        EndpointAttributes.CLIENT_ZONE,
        false);
  }

  /** As {@link PeakEwmaLoadBalancerProvider} builds it, on the simulation's clock. */
  static FleetPolicy peakEwma() {
    return FleetPolicy.of(
        new PeakEwmaLoadBalancerProvider(),
        (helper, clock, random) ->
            HealthChecking.wrap(
                helper, h -> PeakEwmaPolicy.balancer(h, clock, random, ReadmissionProbe.INSTANCE)),
        EndpointAttributes.ZONE_HINTS,
        EndpointAttributes.CLIENT_ZONE,
        true);
  }
}
