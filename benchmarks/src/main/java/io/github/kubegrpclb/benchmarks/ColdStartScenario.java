package io.github.kubegrpclb.benchmarks;

import io.github.kubegrpclb.testing.LoopbackFleet;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.ReadyCountingPolicy;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * Cold start end to end: a fresh channel to N loopback pods ({@link LoopbackFleet}: one server on N
 * addresses, real TCP and HTTP/2), from channel creation to (a) its first RPC answered (fail-fast,
 * sent at creation) and (b) every subchannel READY (recorded at the Helper by {@link
 * ReadyCountingPolicy}, the same way for every policy); then RPCs until every pod has served one,
 * to check that the picker reaches them all. grpc-java's round_robin (as the registry gives it,
 * with grpc-services) is the same-run baseline; policies take turns (a channel's teardown still
 * loads the server when the next one starts, so the order rotates each round), median of the
 * rounds.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * io.github.kubegrpclb.benchmarks.ColdStartScenario [pods] [rounds]} (default 1,000 pods, 3 rounds;
 * needs about 3 file descriptors per pod: check {@code ulimit -n}).
 */
public final class ColdStartScenario {
  private static final String[] POLICIES = {"kube_round_robin", "peak_ewma", "round_robin"};
  private static final Duration DEADLINE = Duration.ofSeconds(120);

  private ColdStartScenario() {}

  public static void main(String[] args) {
    int pods = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    System.out.print(markdown(pods, rounds));
    System.exit(0); // gRPC's shared Netty threads would keep the JVM up a while
  }

  static String markdown(int pods, int rounds) {
    List<List<long[]>> results = new ArrayList<>();
    for (int p = 0; p < POLICIES.length; p++) {
      results.add(new ArrayList<>());
    }
    try (LoopbackFleet fleet = LoopbackFleet.start(pods)) {
      coldStart(fleet, "round_robin"); // warm-up: JIT, Netty, the loopback stack
      for (int round = 0; round < rounds; round++) {
        for (int turn = 0; turn < POLICIES.length; turn++) {
          int p = (round + turn) % POLICIES.length; // each policy goes first in some round
          results.get(p).add(coldStart(fleet, POLICIES[p]));
        }
      }
    }
    StringBuilder md =
        new StringBuilder(
            String.format(
                Locale.ROOT,
                "| policy | first RPC answered | all %,d subchannels READY | RPCs until every pod"
                    + " served one |%n|---|---|---|---|%n",
                pods));
    for (int p = 0; p < POLICIES.length; p++) {
      md.append(
          String.format(
              Locale.ROOT,
              "| %s | %.0f ms | %.0f ms | %,d |%n",
              POLICIES[p],
              median(results.get(p), 0) / 1e6,
              median(results.get(p), 1) / 1e6,
              (long) median(results.get(p), 2)));
    }
    return md.toString();
  }

  private static double median(List<long[]> rows, int column) {
    long[] values = rows.stream().mapToLong(row -> row[column]).sorted().toArray();
    return values[values.length / 2];
  }

  /** Returns {nanos to first answer, nanos to all READY, RPCs until every pod served one}. */
  static long[] coldStart(LoopbackFleet fleet, String policy) {
    try (ReadyCountingPolicy counting =
        ReadyCountingPolicy.register("cold_start_" + policy, policy)) {
      ManualNameResolverProvider resolver = new ManualNameResolverProvider(fleet.addressGroups());
      long start = System.nanoTime();
      ManagedChannel channel =
          resolver
              .channelBuilder()
              .defaultServiceConfig(ServiceConfigs.policy(counting.getPolicyName()))
              .build();
      try {
        BitSet served = new BitSet();
        served.set(
            podIndex(
                PodService.whoami(
                    channel,
                    CallOptions.DEFAULT.withDeadlineAfter(
                        DEADLINE.toMillis(), TimeUnit.MILLISECONDS))));
        long firstAnswer = System.nanoTime() - start;
        int pods = fleet.size();
        Awaitility.await()
            .atMost(DEADLINE)
            .pollInterval(Duration.ofMillis(1))
            .until(() -> counting.readyCount() >= pods);
        long allReady = counting.nanosWhenReady(pods) - start;
        long rpcs = 1;
        for (; served.cardinality() < pods && rpcs < 200L * pods; rpcs++) {
          served.set(
              podIndex(
                  PodService.whoami(
                      channel, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS))));
        }
        if (served.cardinality() < pods) {
          throw new IllegalStateException(
              policy + ": " + served.cardinality() + " of " + pods + " pods served");
        }
        return new long[] {firstAnswer, allReady, rpcs};
      } finally {
        channel.shutdownNow();
        try {
          channel.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  private static int podIndex(String name) {
    return Integer.parseInt(name.substring("pod-".length()));
  }
}
