package io.github.kubegrpclb.benchmarks;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The cold-join row of {@link SickPodScenarios} repeated: each round, for each policy, a fifth pod
 * joins 4 serving ones under 8 callers with 50 ms extra latency falling to 0 over 3 s; prints p99
 * over the 3 s after the join / p99 over the 3 s before, per round, with the machine's load
 * average, and the median over the rounds (issue 25's done-when: kube_round_robin <= 1.5x).
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * io.github.kubegrpclb.benchmarks.ColdJoinRounds [rounds] [policy...]} (default 5 rounds,
 * kube_round_robin and peak_ewma, interleaved; one discarded warm-up join first).
 */
public final class ColdJoinRounds {
  private ColdJoinRounds() {}

  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    String[] policies =
        args.length > 1
            ? Arrays.copyOfRange(args, 1, args.length)
            : new String[] {"kube_round_robin", "peak_ewma"};
    SickPodScenarios.coldJoin(policies[0]); // warm-up: JIT, Netty, the loopback stack
    List<List<Double>> ratios = new ArrayList<>();
    for (int p = 0; p < policies.length; p++) {
      ratios.add(new ArrayList<>());
    }
    for (int round = 0; round < rounds; round++) {
      for (int p = 0; p < policies.length; p++) {
        double ratio = SickPodScenarios.coldJoin(policies[p]);
        ratios.get(p).add(ratio);
        System.out.printf(
            Locale.ROOT,
            "round %d %s: p99 after / before %.2fx (load average %.1f)%n",
            round + 1,
            policies[p],
            ratio,
            ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
      }
    }
    for (int p = 0; p < policies.length; p++) {
      List<Double> sorted = new ArrayList<>(ratios.get(p));
      sorted.sort(null);
      System.out.printf(
          Locale.ROOT,
          "%s: median of %d rounds %.2fx, all %s%n",
          policies[p],
          rounds,
          sorted.get(sorted.size() / 2),
          ratios.get(p));
    }
    System.exit(0);
  }
}
