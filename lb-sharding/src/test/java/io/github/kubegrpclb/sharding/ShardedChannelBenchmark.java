package io.github.kubegrpclb.sharding;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.KubeProxyRules;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MaxAgePods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The figures of the sharded row in docs/benchmarks.md, on the real dataplane (kube-proxy iptables
 * rules in the test JVM's network namespace): a plain channel to the ClusterIP and a {@link
 * ShardedChannel}, measured in the same run, in interleaved rounds, each round on fresh channels
 * (fresh kube-proxy decisions). Not part of the normal test run (the name does not end in Test):
 *
 * <pre>
 * mvn -B -pl lb-sharding -am verify -Dtest=ShardedChannelBenchmark \
 *     -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 *
 * Prints Markdown tables and writes them to {@code lb-sharding/target/sharding-benchmark.md}.
 */
class ShardedChannelBenchmark {
  private static final int PODS = 4;
  private static final int ROUNDS = 7;
  private static final int CALLS = 10_000;
  private static final int THREADS = 4;
  private static final Duration AGING_RUN = Duration.ofSeconds(10);

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  private record Client(String name, Supplier<ManagedChannel> channel) {}

  private record Round(
      double rpcPerSecond, double busiestShare, int podsReached, RpcLoad.Result r) {}

  @Test
  void run() throws Exception {
    KubeProxyRules.require();
    StringBuilder out = new StringBuilder();
    spreadAndLatency(out);
    serversWithMaxConnectionAge(out);
    System.out.println(out);
    Path file = Path.of("target", "sharding-benchmark.md");
    Files.createDirectories(file.getParent());
    Files.writeString(file, out);
  }

  /* Steady load on healthy pods: how evenly the pods are used, and what a call costs. */
  private void spreadAndLatency(StringBuilder out) throws IOException {
    LoopbackPods pods = cleanup.add(LoopbackPods.start(PODS));
    InetSocketAddress vip =
        new InetSocketAddress(InetAddress.getByName("127.96.0.10"), pods.port());
    KubeProxyRules.apply(vip, pods.all().stream().map(LoopbackPod::address).toList());
    String target = "127.96.0.10:" + pods.port();
    List<Client> clients =
        List.of(
            new Client(
                "one channel to the ClusterIP (baseline)",
                () -> Grpc.newChannelBuilder(target, InsecureChannelCredentials.create()).build()),
            new Client(
                "ShardedChannel, 8 connections",
                () -> ShardedChannel.newBuilder(target).connections(8).build()),
            new Client(
                "ShardedChannel, 4 connections, podIdentityHeader",
                () ->
                    ShardedChannel.newBuilder(target)
                        .connections(4)
                        .podIdentityHeader(LoopbackPod.POD_HEADER.name())
                        .build()));
    List<List<Round>> rounds = new ArrayList<>();
    clients.forEach(c -> rounds.add(new ArrayList<>()));
    for (int round = -1; round < ROUNDS; round++) { // round -1 warms the JIT up
      for (int i = 0; i < clients.size(); i++) {
        Round result = measure(clients.get(i).channel().get(), pods.size());
        if (round >= 0) {
          rounds.get(i).add(result);
        }
      }
    }
    double baselineP50 = median(rounds.get(0), r -> millis(r.r().latencyPercentile(0.5)));
    double baselineRate = median(rounds.get(0), Round::rpcPerSecond);
    out.append(
        String.format(
            Locale.ROOT,
            "### Spread over %d pods behind a ClusterIP (%d rounds of %,d RPCs, %d threads,"
                + " fresh channels each round)%n%n"
                + "| client | pods reached (min of rounds) | busiest pod's share (median) |"
                + " p50 ms | p50 vs one connection | p99 ms | RPCs/s | failed |%n"
                + "|---|---|---|---|---|---|---|---|%n",
            PODS,
            ROUNDS,
            CALLS,
            THREADS));
    for (int i = 0; i < clients.size(); i++) {
      List<Round> rs = rounds.get(i);
      double p50 = median(rs, r -> millis(r.r().latencyPercentile(0.5)));
      out.append(
          String.format(
              Locale.ROOT,
              "| %s | %d of %d | %.0f %% | %.3f | %.2fx | %.3f | %.0f (%.2fx) | %d |%n",
              clients.get(i).name(),
              rs.stream().mapToInt(Round::podsReached).min().orElse(0),
              PODS,
              100 * median(rs, Round::busiestShare),
              p50,
              p50 / baselineP50,
              median(rs, r -> millis(r.r().latencyPercentile(0.99))),
              median(rs, Round::rpcPerSecond),
              median(rs, Round::rpcPerSecond) / baselineRate,
              rs.stream().mapToLong(r -> r.r().failures()).sum()));
    }
    out.append('\n');
    for (List<Round> rs : rounds) {
      assertThat(rs).allSatisfy(r -> assertThat(r.r().failures()).isZero());
    }
    pods.close();
  }

  private Round measure(ManagedChannel channel, int pods) {
    try {
      if (channel instanceof ShardedChannel sharded) {
        // Settled first, as a long-lived client is: every shard READY, re-dials of duplicates done.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        ChannelReadiness.awaitReady(channel);
        long redials = -1;
        while (System.nanoTime() < deadline
            && (redials != sharded.pool().redials()
                || !sharded.pool().shards().stream()
                    .allMatch(s -> s.channel.getState(false) == ConnectivityState.READY))) {
          redials = sharded.pool().redials();
          RpcLoad.run(channel, 200, 2, CallOptions.DEFAULT);
        }
      } else {
        ChannelReadiness.awaitReady(channel);
        RpcLoad.run(channel, 200, 2, CallOptions.DEFAULT);
      }
      long start = System.nanoTime();
      RpcLoad.Result result = RpcLoad.run(channel, CALLS, THREADS, CallOptions.DEFAULT);
      double seconds = (System.nanoTime() - start) / 1e9;
      long busiest = result.perPod().values().stream().mapToLong(Long::longValue).max().orElse(0);
      return new Round(
          result.succeeded() / seconds,
          (double) busiest / Math.max(1, result.succeeded()),
          result.perPod().size(),
          result);
    } finally {
      channel.shutdownNow();
      try {
        channel.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /* Servers closing every connection after 1 s (GOAWAY): what keeps serving, and how widely. */
  private void serversWithMaxConnectionAge(StringBuilder out) throws Exception {
    MaxAgePods pods =
        cleanup.add(MaxAgePods.start(3, Duration.ofSeconds(1), Duration.ofSeconds(10)));
    InetSocketAddress vip =
        new InetSocketAddress(InetAddress.getByName("127.96.0.10"), pods.port());
    KubeProxyRules.apply(vip, pods.addresses());
    String target = "127.96.0.10:" + pods.port();
    out.append(
        String.format(
            Locale.ROOT,
            "### Servers with maxConnectionAge 1 s, 3 pods (%d s of %d threads, fail-fast)%n%n"
                + "| client | RPCs/s | failed | busiest pod's share | samples with no connection"
                + " open (one channel) or <= 2 of 8 (sharded) | samples with every connection"
                + " READY | longest outage of a connection |%n"
                + "|---|---|---|---|---|---|---|%n",
            AGING_RUN.toSeconds(),
            THREADS));
    ManagedChannel plain =
        Grpc.newChannelBuilder(target, InsecureChannelCredentials.create()).build();
    ShardedChannel sharded =
        ShardedChannel.newBuilder(target).connections(8).maxConnectionAge(Duration.ZERO).build();
    for (ManagedChannel channel : List.of(plain, sharded)) {
      ChannelReadiness.awaitReady(channel);
      RpcLoad.run(channel, 100, 1, CallOptions.DEFAULT);
      long start = System.nanoTime();
      RpcLoad.Result result;
      String readinessText;
      try (ShardReadiness readiness =
              channel == sharded
                  ? ShardReadiness.of(sharded, pods::openConnections, 2)
                  : ShardReadiness.of(channel, pods::openConnections, 0);
          RpcLoad load = RpcLoad.start(channel, THREADS, CallOptions.DEFAULT)) {
        TimeUnit.NANOSECONDS.sleep(AGING_RUN.toNanos()); // the measurement window
        result = load.snapshot();
        readinessText =
            String.format(
                Locale.ROOT,
                "| %.0f | %d | %.0f %% | %.1f %% | %.1f %% | %d ms |%n",
                result.succeeded() / ((System.nanoTime() - start) / 1e9),
                result.failures(),
                100.0
                    * result.perPod().values().stream().mapToLong(Long::longValue).max().orElse(0)
                    / Math.max(1, result.succeeded()),
                100 * readiness.extraAtMostThresholdShare(),
                100 * readiness.allReadyShare(),
                readiness.longestOutage().toMillis());
      }
      out.append(
          channel == sharded
              ? "| ShardedChannel, 8 connections "
              : "| one channel to the ClusterIP (baseline) ");
      out.append(readinessText);
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    out.append('\n');
  }

  private static double millis(Duration d) {
    return d.toNanos() / 1e6;
  }

  private static double median(List<Round> rounds, java.util.function.ToDoubleFunction<Round> f) {
    double[] values = rounds.stream().mapToDouble(f).sorted().toArray();
    return values[values.length / 2];
  }
}
