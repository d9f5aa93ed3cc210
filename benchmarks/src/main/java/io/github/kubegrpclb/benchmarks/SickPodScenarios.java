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
 * The sick-pod rows of {@link ScenarioBenchmark}: one of 4 pods answers UNIMPLEMENTED at once,
 * hangs, or joins cold, under 8 closed-loop callers with fail-fast RPCs, for grpc-java's
 * round_robin and least_request_experimental and our two policies, each with its defaults, in the
 * same run. (The partition row needs a network namespace: see {@code PartitionNetnsTest}.)
 */
public final class SickPodScenarios {
  private static final String[] POLICIES = {
    "round_robin", "least_request_experimental", "kube_round_robin", "peak_ewma"
  };
  private static final int CALLERS = 8;

  private SickPodScenarios() {}

  /** Prints only these rows (ScenarioBenchmark prints them with the rest). */
  public static void main(String[] args) {
    System.out.println(markdown());
    System.exit(0);
  }

  static String markdown() {
    StringBuilder md =
        new StringBuilder(
            "## Sick pods: 1 of 4 pods sick under load (8 callers, fail-fast RPCs)\n\n"
                + "Each cell: a fresh channel with the policy's defaults and fresh pods. Fast"
                + " errors: the pod answers every call with UNIMPLEMENTED at once; share of the"
                + " calls reaching pods over 3 s. Hung: the pod stops answering (calls have a 10 s"
                + " deadline, longer than the window); share of new calls from 2 s to 5 s after"
                + " the hang, and the RPCs served in that window (the 8 callers are closed-loop: a caller whose"
                + " call hangs is stuck, so round robin ends up with every caller stuck). Cold join: a fifth pod joins whose calls take 50 ms extra, falling"
                + " to 0 over 3 s; p99 over the 3 s after the join / p99 over the 3 s before.\n\n"
                + "| policy | fast errors: sick pod's share | hung: sick pod's share"
                + " | hung: RPCs served | cold join: p99 / steady p99 |\n"
                + "|---|---|---|---|---|\n");
    for (String policy : POLICIES) {
      double fast = fastErrors(policy);
      long[] hung = hung(policy);
      md.append(
          String.format(
              Locale.ROOT,
              "| %s | %.1f %% | %s | %d | %.1fx |%n",
              policy,
              100 * fast,
              hung[1] == 0
                  ? "- (no call started)"
                  : String.format(Locale.ROOT, "%.1f %%", 100.0 * hung[0] / hung[1]),
              hung[2],
              coldJoin(policy)));
    }
    return md.append('\n').toString();
  }

  @SuppressWarnings("try") // the load runs for the scope
  private static double fastErrors(String policy) {
    try (LoopbackPods pods = LoopbackPods.start(4)) {
      LoopbackPod sick = pods.get(2);
      ManagedChannel channel =
          channel(new ManualNameResolverProvider(pods.addressGroups()), policy);
      try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
        ScenarioSupport.awaitFor(Duration.ofSeconds(1));
        sick.setFailWith(Status.Code.UNIMPLEMENTED, null);
        return shareOver(pods, sick, Duration.ofSeconds(3));
      } finally {
        ScenarioSupport.close(channel);
      }
    }
  }

  /** Returns {calls to the hung pod, calls to all pods, RPCs served} from 2 s to 5 s. */
  private static long[] hung(String policy) {
    try (LoopbackPods pods = LoopbackPods.start(4)) {
      LoopbackPod sick = pods.get(1);
      ManagedChannel channel =
          channel(new ManualNameResolverProvider(pods.addressGroups()), policy);
      try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
        ScenarioSupport.awaitFor(Duration.ofSeconds(1));
        sick.setHung(true);
        ScenarioSupport.awaitFor(Duration.ofSeconds(2));
        long podBefore = sick.calls();
        long totalBefore = total(pods);
        long servedBefore = load.snapshot().succeeded();
        ScenarioSupport.awaitFor(Duration.ofSeconds(3));
        long[] result = {
          sick.calls() - podBefore,
          total(pods) - totalBefore,
          load.snapshot().succeeded() - servedBefore
        };
        sick.setHung(false);
        return result;
      } finally {
        ScenarioSupport.close(channel);
      }
    }
  }

  static double coldJoin(String policy) {
    try (LoopbackPods pods = LoopbackPods.start(4)) {
      ManualNameResolverProvider resolver = new ManualNameResolverProvider(pods.addressGroups());
      ManagedChannel channel = channel(resolver, policy);
      try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
        ScenarioSupport.awaitFor(Duration.ofSeconds(1));
        load.reset();
        ScenarioSupport.awaitFor(Duration.ofSeconds(3));
        Duration steady = load.snapshot().latencyPercentile(0.99);
        LoopbackPod cold = pods.add();
        cold.setColdStart(Duration.ofMillis(50), Duration.ofSeconds(3));
        resolver.update(pods.addressGroups());
        load.reset();
        ScenarioSupport.awaitFor(Duration.ofSeconds(3));
        return (double) load.snapshot().latencyPercentile(0.99).toNanos() / steady.toNanos();
      } finally {
        ScenarioSupport.close(channel);
      }
    }
  }

  private static double shareOver(LoopbackPods pods, LoopbackPod pod, Duration window) {
    long podBefore = pod.calls();
    long totalBefore = total(pods);
    ScenarioSupport.awaitFor(window);
    long total = total(pods) - totalBefore;
    return total == 0 ? 0 : (double) (pod.calls() - podBefore) / total;
  }

  private static long total(LoopbackPods pods) {
    return pods.all().stream().mapToLong(LoopbackPod::calls).sum();
  }

  private static ManagedChannel channel(ManualNameResolverProvider resolver, String policy) {
    return resolver.channelBuilder().defaultServiceConfig(ServiceConfigs.policy(policy)).build();
  }
}
