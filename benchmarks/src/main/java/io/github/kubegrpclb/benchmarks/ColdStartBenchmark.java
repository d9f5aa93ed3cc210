package io.github.kubegrpclb.benchmarks;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.grpc.ConnectivityState;
import io.grpc.LoadBalancer;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Cold start to READY: a balancer gets N endpoints and every subchannel reports CONNECTING, then
 * READY; the figure is the time spent in the SynchronizationContext (the channel's one thread for
 * balancer work), measured with lb-testing's FakeHelper, no network, as the CPU time of the thread
 * that runs it all (the test thread): on a shared machine, wall-clock time would mostly measure the
 * wait for a core. Two arrival patterns: every state change in its own drain of the context
 * (connections completing one by one: the worst case) and all of them queued in one drain
 * (connections completing while the context is busy). grpc-java's round_robin (grpc-util, no health
 * checking) is measured in the same run.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * io.github.kubegrpclb.benchmarks.ColdStartBenchmark}; prints Markdown (median of 5 after 2 warm-up
 * rounds).
 */
public final class ColdStartBenchmark {
  private static final String[] POLICIES = {
    "kube_round_robin", "peak_ewma", BalancerFixture.BARE_ROUND_ROBIN
  };

  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

  private ColdStartBenchmark() {}

  public static void main(String[] args) {
    int[] sizes = args.length > 0 ? parse(args[0]) : new int[] {1000, 10_000};
    StringBuilder md = new StringBuilder();
    md.append("| endpoints | arrival | ");
    for (String policy : POLICIES) {
      md.append(policy).append(" | ");
    }
    md.append("\n|---|---|---|---|---|\n");
    for (int n : sizes) {
      for (boolean oneDrain : new boolean[] {false, true}) {
        md.append(String.format(Locale.ROOT, "| %,d | %s |", n, oneDrain ? "one drain" : "each"));
        for (String policy : POLICIES) {
          md.append(String.format(Locale.ROOT, " %.1f ms |", medianMillis(policy, n, oneDrain)));
        }
        md.append('\n');
      }
    }
    System.out.print(md);
  }

  private static int[] parse(String csv) {
    return Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
  }

  private static double medianMillis(String policy, int n, boolean oneDrain) {
    int warmups = n >= 10_000 ? 1 : 2;
    int rounds = n >= 10_000 ? 3 : 5;
    List<Long> times = new ArrayList<>();
    for (int i = 0; i < warmups + rounds; i++) {
      long nanos = coldStartNanos(policy, n, oneDrain);
      if (i >= warmups) {
        times.add(nanos);
      }
    }
    times.sort(null);
    return times.get(times.size() / 2) / 1e6;
  }

  static long coldStartNanos(String policy, int n, boolean oneDrain) {
    BalancerFixture fixture = new BalancerFixture(policy);
    FakeHelper helper = fixture.helper;
    try {
      long start = CPU.getCurrentThreadCpuTime();
      fixture.accept(EndpointGroups.endpoints(0, n));
      List<FakeHelper.FakeSubchannel> subchannels = helper.createdSubchannels();
      if (oneDrain) {
        helper.run(
            () -> {
              for (FakeHelper.FakeSubchannel subchannel : subchannels) {
                subchannel.deliver(ConnectivityState.CONNECTING);
                subchannel.deliver(ConnectivityState.READY);
              }
            });
      } else {
        for (FakeHelper.FakeSubchannel subchannel : subchannels) {
          subchannel.deliver(ConnectivityState.CONNECTING);
          subchannel.deliver(ConnectivityState.READY);
        }
      }
      long elapsed = CPU.getCurrentThreadCpuTime() - start;
      checkAllPicked(helper.picker(), n, helper.state());
      return elapsed;
    } finally {
      fixture.shutdown();
    }
  }

  /** The final picker must reach every endpoint: a cheap start that drops some is no start. */
  private static void checkAllPicked(
      LoadBalancer.SubchannelPicker picker, int n, ConnectivityState state) {
    if (state != ConnectivityState.READY) {
      throw new IllegalStateException("not READY: " + state);
    }
    java.util.Set<LoadBalancer.Subchannel> seen = new java.util.HashSet<>();
    for (int i = 0; i < n * 30 && seen.size() < n; i++) {
      seen.add(picker.pickSubchannel(BalancerFixture.Args.INSTANCE).getSubchannel());
    }
    if (seen.size() < n) {
      throw new IllegalStateException("picker reaches " + seen.size() + " of " + n);
    }
  }
}
