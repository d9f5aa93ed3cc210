package io.github.kubegrpclb.sharding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.KubeProxyRules;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MaxAgePods;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.ResponseCallbacks;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCalls;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * On the real dataplane: kube-proxy's iptables rules (statistic random + DNAT) for a ClusterIP
 * 127.96.0.10 in front of loopback pods, inside the test JVM's private network namespace.
 */
class ShardedChannelKubeProxyTest {
  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private LoopbackPods pods;
  private InetSocketAddress vip;

  @BeforeEach
  void setUp() throws Exception {
    KubeProxyRules.require();
    pods = LoopbackPods.start(3);
    cleanup.add(pods);
    vip = new InetSocketAddress(InetAddress.getByName("127.96.0.10"), pods.port());
    KubeProxyRules.apply(vip, addresses(pods.all()));
  }

  private static List<InetSocketAddress> addresses(List<LoopbackPod> pods) {
    return pods.stream().map(LoopbackPod::address).toList();
  }

  private String target() {
    return "127.96.0.10:" + vip.getPort();
  }

  private <T extends ManagedChannel> T closing(T channel) {
    cleanup.channel(channel);
    return channel;
  }

  @Test
  void plainChannelToTheClusterIp_sendsEveryRpcToOnePod() {
    ManagedChannel channel =
        closing(Grpc.newChannelBuilder(target(), InsecureChannelCredentials.create()).build());
    ChannelReadiness.awaitReady(channel);

    RpcLoad.Result result = RpcLoad.run(channel, 3000, 4, CallOptions.DEFAULT);

    assertThat(result.failures()).isZero();
    assertThat(result.perPod()).as("%s", result).hasSize(1);
    assertThat(result.succeeded()).isEqualTo(3000);
  }

  @Test
  void shardedChannel_8Connections_reachesAll3Pods() {
    ShardedChannel channel =
        closing(
            ShardedChannel.newBuilder(target())
                .connections(8)
                .podIdentityHeader(LoopbackPod.POD_HEADER.name())
                .build());
    awaitAllShardsReady(channel);

    try (RpcLoad load = RpcLoad.start(channel, 4, CallOptions.DEFAULT)) {
      await().atMost(Duration.ofSeconds(20)).until(() -> load.snapshot().perPod().size() == 3);
      assertThat(load.snapshot().failures()).isZero();
    }
  }

  @Test
  void rebalancing_podAddedToTheRules_getsTrafficWithinTwoPeriods() {
    Duration period = Duration.ofSeconds(2);
    ShardedChannel channel =
        closing(
            ShardedChannel.newBuilder(target())
                .connections(8)
                .maxConnectionAge(period)
                .podIdentityHeader(LoopbackPod.POD_HEADER.name())
                .build());
    awaitAllShardsReady(channel);
    try (RpcLoad load = RpcLoad.start(channel, 4, CallOptions.DEFAULT)) {
      await().atMost(Duration.ofSeconds(10)).until(() -> load.snapshot().succeeded() > 500);

      LoopbackPod added = pods.add();
      KubeProxyRules.apply(vip, addresses(pods.all()));
      long start = System.nanoTime();
      // Two periods plus the +20 % jitter of the last one.
      await()
          .atMost(period.multipliedBy(2).plus(period.dividedBy(5)))
          .until(() -> load.snapshot().served(added.name()) > 0);
      System.out.printf(
          "rebalancing: 4th pod served after %d ms (period %d ms)%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), period.toMillis());
      assertThat(load.snapshot().failures()).isZero();
    }
  }

  @Test
  void recyclingUnderSteadyLoad_failsNoRpc() {
    AtomicInteger dials = new AtomicInteger();
    ShardedChannel channel =
        closing(
            ShardedChannel.newBuilder(target())
                .connections(4)
                .maxConnectionAge(Duration.ofMillis(300))
                .channelBuilderCustomizer(b -> dials.incrementAndGet())
                .build());
    try (RpcLoad load = RpcLoad.start(channel, 4, CallOptions.DEFAULT)) {
      // 40 replacements: every connection recycled about 10 times under fail-fast load.
      await()
          .atMost(Duration.ofSeconds(120))
          .until(() -> dials.get() >= 4 + 40 && load.snapshot().succeeded() > 2000);
      assertThat(load.snapshot().failures()).as("%s", load.snapshot()).isZero();
      assertThat(load.snapshot().perPod()).hasSizeGreaterThan(1);
    }
  }

  @Test
  void serversWithMaxConnectionAge1s_underLoad_everyShardReadyWithin1sOfEachGoAway_noRpcFails() {
    cleanup.add(pods).close(); // this test's pods close their connections at 1 s
    MaxAgePods aging =
        cleanup.add(MaxAgePods.start(3, Duration.ofSeconds(1), Duration.ofSeconds(10)));
    InetSocketAddress agingVip = new InetSocketAddress(vip.getAddress(), aging.port());
    KubeProxyRules.apply(agingVip, aging.addresses());
    ShardedChannel channel =
        closing(
            ShardedChannel.newBuilder("127.96.0.10:" + aging.port())
                .connections(8)
                .maxConnectionAge(Duration.ZERO) // the servers recycle, every second
                .build());
    awaitAllShardsReady(channel);

    try (ShardReadiness readiness = ShardReadiness.of(channel, aging::openConnections, 2);
        RpcLoad load = RpcLoad.start(channel, 4, CallOptions.DEFAULT)) {
      long accepted = aging.acceptedConnections();
      // Five GOAWAYs per shard on average: 40 new connections.
      await()
          .atMost(Duration.ofSeconds(120))
          .until(() -> aging.acceptedConnections() >= accepted + 40);
      RpcLoad.Result result = load.snapshot();
      System.out.printf(
          "maxConnectionAge 1 s: %s; %d connections accepted; %s%n",
          readiness, aging.acceptedConnections() - accepted, result);

      assertThat(readiness.outages()).as("%s", readiness).isGreaterThanOrEqualTo(30);
      assertThat(readiness.longestOutage()).as("%s", readiness).isLessThan(Duration.ofSeconds(1));
      assertThat(result.failures()).as("%s", result).isZero();
      assertThat(result.perPod()).as("%s", result).containsOnlyKeys(aging.names());
    }
  }

  @Test
  void podRestarted_shardsOnItReconnectToTheOthersAtOnce_thenItGetsTrafficAgain_noRpcFails() {
    Duration period = Duration.ofSeconds(3); // aging alone would take >= 2.4 s
    ShardedChannel channel =
        closing(
            ShardedChannel.newBuilder(target())
                .connections(8)
                .maxConnectionAge(period)
                .podIdentityHeader(LoopbackPod.POD_HEADER.name())
                .build());
    awaitAllShardsReady(channel);
    LoopbackPod restarted = pods.get(1);

    try (ShardReadiness readiness = ShardReadiness.of(channel, () -> 0, 0);
        RpcLoad load = RpcLoad.start(channel, 4, CallOptions.DEFAULT)) {
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> load.snapshot().served(restarted.name()) > 0);
      // Terminating: kube-proxy drops the endpoint, then the pod drains (GOAWAY) and exits.
      KubeProxyRules.apply(vip, addresses(List.of(pods.get(0), pods.get(2))));
      restarted.drain();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> channel.pool().shards().stream().allMatch(ShardedChannelKubeProxyTest::ready));
      String during = readiness.toString();
      Duration longest = readiness.longestOutage();
      load.reset();

      restarted.restart();
      KubeProxyRules.apply(vip, addresses(pods.all()));
      await()
          .atMost(period.multipliedBy(2).plus(period.dividedBy(5)))
          .until(() -> load.snapshot().served(restarted.name()) > 0);

      System.out.printf("pod restarted: %s; after: %s%n", during, load.snapshot());
      // At once, not at the next aging; 2 s leaves room for one SYN retransmission on a busy
      // machine.
      assertThat(longest).as(during).isLessThan(Duration.ofSeconds(2));
      assertThat(load.snapshot().failures()).as("%s", load.snapshot()).isZero();
    }
  }

  @Test
  void fewerPodsThanShards_redialsStayWithinOnePerShardPerPeriod() {
    cleanup.add(pods).close();
    LoopbackPods two = cleanup.add(LoopbackPods.start(2));
    InetSocketAddress twoVip = new InetSocketAddress(vip.getAddress(), two.port());
    KubeProxyRules.apply(twoVip, addresses(two.all()));
    Duration period = Duration.ofSeconds(1);
    long start = System.nanoTime();
    ShardedChannel channel =
        closing(
            ShardedChannel.newBuilder("127.96.0.10:" + two.port())
                .connections(8)
                .maxConnectionAge(period)
                .podIdentityHeader(LoopbackPod.POD_HEADER.name())
                .build());

    try (RpcLoad load = RpcLoad.start(channel, 4, CallOptions.DEFAULT)) {
      await().atMost(Duration.ofSeconds(60)).until(() -> channel.pool().redials() >= 8 * 4);
      long redials = channel.pool().redials();
      long periods = (System.nanoTime() - start) / period.toNanos() + 1;
      System.out.printf(
          "2 pods, 8 shards: %d re-dials in %d periods; %s%n", redials, periods, load.snapshot());

      // The budget starts a new period at most once per period: 3 re-dials per shard in each.
      assertThat(redials).isLessThanOrEqualTo(3L * 8 * periods);
      assertThat(load.snapshot().failures()).as("%s", load.snapshot()).isZero();
      assertThat(load.snapshot().perPod()).hasSize(2);
    }
  }

  @Test
  void shutdownDuringReplacement_terminates_andDialsNothingMore() throws Exception {
    AtomicInteger dials = new AtomicInteger();
    Duration period = Duration.ofMillis(500);
    ShardedChannel channel =
        ShardedChannel.newBuilder(target())
            .connections(4)
            .maxConnectionAge(period)
            .channelBuilderCustomizer(b -> dials.incrementAndGet())
            .build();
    cleanup.add(() -> channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    awaitAllShardsReady(channel);
    // The Service's only endpoint now refuses connections: replacements never get READY.
    KubeProxyRules.apply(
        vip, List.of(new InetSocketAddress(LoopbackPods.hostAddress(50), pods.port())));
    await().atMost(Duration.ofSeconds(30)).until(() -> dials.get() > 4);
    assertThat(PodService.whoami(channel)).as("the old shards still serve").isNotEmpty();

    channel.shutdown();

    assertThat(channel.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    assertThat(channel.isTerminated()).isTrue();
    assertThat(channel.getState(false)).isEqualTo(ConnectivityState.SHUTDOWN);
    int after = dials.get();
    await()
        .during(period.multipliedBy(3))
        .atMost(period.multipliedBy(6))
        .until(() -> dials.get() == after);
  }

  @Test
  void enterIdle_shardsStayIdleUntilTheNextCall_whichReconnectsThemAll() {
    ShardedChannel channel = closing(ShardedChannel.newBuilder(target()).connections(4).build());
    awaitAllShardsReady(channel);

    channel.enterIdle();

    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                channel.getState(false) == ConnectivityState.IDLE
                    && allShardsAre(channel, ConnectivityState.IDLE));
    await()
        .during(Duration.ofSeconds(1))
        .atMost(Duration.ofSeconds(3))
        .until(() -> allShardsAre(channel, ConnectivityState.IDLE));

    assertThat(PodService.whoami(channel)).isNotEmpty(); // fail-fast: idle is not a failure

    awaitAllShardsReady(channel);
    assertThat(channel.getState(false)).isEqualTo(ConnectivityState.READY);
  }

  @Test
  void getStateAndNotifyWhenStateChanged_followTheShards_onTheConfiguredExecutor()
      throws Exception {
    ExecutorService executor =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "app-executor");
              t.setDaemon(true);
              return t;
            });
    cleanup.add(executor::shutdownNow);
    BlockingQueue<String> events = new LinkedBlockingQueue<>();
    ShardedChannel channel =
        closing(ShardedChannel.newBuilder(target()).connections(4).executor(executor).build());
    ConnectivityState first = channel.getState(false);
    assertThat(first).isIn(ConnectivityState.CONNECTING, ConnectivityState.READY);
    channel.notifyWhenStateChanged(
        ConnectivityState.CONNECTING,
        () -> events.add(Thread.currentThread().getName() + " " + channel.getState(false)));

    assertThat(events.poll(10, TimeUnit.SECONDS)).isEqualTo("app-executor READY");

    channel.notifyWhenStateChanged(
        ConnectivityState.READY,
        () -> events.add(Thread.currentThread().getName() + " " + channel.getState(false)));
    channel.shutdown();
    assertThat(events.poll(10, TimeUnit.SECONDS)).isEqualTo("app-executor SHUTDOWN");
    // Calls' callbacks run there too (an asynchronous call: blocking stubs run them on the caller).
    AtomicReference<String> callbackThread = new AtomicReference<>();
    ManagedChannel other =
        closing(ShardedChannel.newBuilder(target()).connections(2).executor(executor).build());
    Channel recorded =
        ClientInterceptors.intercept(
            other,
            ResponseCallbacks.onClose(
                (status, trailers) -> callbackThread.set(Thread.currentThread().getName())));
    ClientCalls.futureUnaryCall(recorded.newCall(PodService.WHOAMI, CallOptions.DEFAULT), "")
        .get(10, TimeUnit.SECONDS);
    assertThat(callbackThread.get()).isEqualTo("app-executor");
  }

  private static boolean ready(Shard shard) {
    return shard.channel.getState(false) == ConnectivityState.READY;
  }

  private static boolean allShardsAre(ShardedChannel channel, ConnectivityState state) {
    return channel.pool().shards().stream().allMatch(s -> s.channel.getState(false) == state);
  }

  /*
   * Issue 22: 3 pods, the default 8 shards, 20 fresh channels. With pod identities the pool settles
   * at 3/3/2 shards per pod, so round robin over the shards gives max/min 1.5 at most (304 RPCs:
   * 38 per shard); every pod holds a shard. Except as documented (docs/sharding.md): kube-proxy's
   * 8 random connections miss one of 3 pods 11.7 % of the time, and the 8 re-dials that explore
   * for it all miss it too with probability (2/3)^8 = 3.9 %: 0.46 % of channels, until the next
   * rebalancing period. So every run must have explored (at least 8 re-dials), and at most 2 of 20
   * may miss a pod (at 0.46 % each, 3 or more misses happen once in about 9,000 executions).
   */
  @Test
  void podIdentity_3Pods8Shards_everyPodHoldsAShard_rpcsMaxOverMinAtMost1_5_in20Runs() {
    List<String> spreads = new ArrayList<>();
    int missed = 0;
    for (int run = 0; run < 20; run++) {
      ShardedChannel channel =
          closing(
              ShardedChannel.newBuilder(target())
                  .podIdentityHeader(LoopbackPod.POD_HEADER.name())
                  .build());
      awaitAllShardsReady(channel);
      awaitSettled(channel);

      RpcLoad.Result result = RpcLoad.run(channel, 304, 2, CallOptions.DEFAULT);
      long redials = channel.pool().redials();
      spreads.add(spread(result) + " redials " + redials);
      channel.shutdownNow();

      assertThat(result.failures()).as("%s", result).isZero();
      assertThat(redials).as("run %d explored: %s", run, spreads).isGreaterThanOrEqualTo(8);
      assertThat(result.perPod().size()).as("run %d: %s", run, spreads).isBetween(2, 3);
      missed += result.perPod().size() < 3 ? 1 : 0;
      long max = result.perPod().values().stream().mapToLong(Long::longValue).max().orElse(0);
      long min = result.perPod().values().stream().mapToLong(Long::longValue).min().orElse(0);
      assertThat((double) max / min).as("run %d: %s", run, spreads).isLessThanOrEqualTo(1.5);
    }
    System.out.println(
        "sharded, pod identity, 3 pods, 8 shards, 304 RPCs: "
            + spreads
            + ", a pod without a shard in "
            + missed
            + " of 20");
    assertThat(missed).as("runs where a pod holds no shard: %s", spreads).isLessThanOrEqualTo(2);
  }

  /* The same without pod identities: kube-proxy's random choice alone, for docs/sharding.md. */
  @Test
  void noPodIdentity_3Pods8Shards_spreadIsKubeProxysRandomChoice_in20Runs() {
    List<String> spreads = new ArrayList<>();
    int podWithoutShard = 0;
    for (int run = 0; run < 20; run++) {
      ShardedChannel channel = closing(ShardedChannel.newBuilder(target()).build());
      awaitAllShardsReady(channel);
      RpcLoad.Result result = RpcLoad.run(channel, 304, 2, CallOptions.DEFAULT);
      channel.shutdownNow();
      assertThat(result.failures()).as("%s", result).isZero();
      spreads.add(spread(result));
      podWithoutShard += result.perPod().size() < 3 ? 1 : 0;
    }
    System.out.println(
        "sharded, no pod identity, 3 pods, 8 shards, 304 RPCs: "
            + spreads
            + ", a pod without a shard in "
            + podWithoutShard
            + " of 20");
  }

  private static String spread(RpcLoad.Result result) {
    return result.served("pod-0") + "/" + result.served("pod-1") + "/" + result.served("pod-2");
  }

  /* Until every shard has named its pod and a batch of RPCs caused no re-dial (bounded). */
  /**
   * Waits (bounded: 200 batches of 64 RPCs) until every shard knows its pod, the pods hold shares
   * of shards that differ by one at most, and a whole batch went by without a re-dial: re-dials are
   * rate limited per period, so a quiet batch alone does not mean the pool is even, and a new pool
   * may still re-dial an even spread looking for unreached pods.
   */
  private static void awaitSettled(ShardedChannel channel) {
    long before = -1;
    for (int batch = 0; batch < 200; batch++) {
      RpcLoad.Result warmup = RpcLoad.run(channel, 64, 2, CallOptions.DEFAULT);
      assertThat(warmup.failures()).as("%s", warmup).isZero();
      long redials = channel.pool().redials();
      boolean quiet = redials == before;
      before = redials;
      List<String> identities = channel.shardIdentities();
      if (quiet
          && identities.stream().allMatch(java.util.Objects::nonNull)
          && allShardsAre(channel, ConnectivityState.READY)) {
        java.util.Map<String, Long> perPod =
            identities.stream()
                .collect(
                    java.util.stream.Collectors.groupingBy(
                        id -> id, java.util.stream.Collectors.counting()));
        long most = perPod.values().stream().mapToLong(Long::longValue).max().orElse(0);
        long least = perPod.values().stream().mapToLong(Long::longValue).min().orElse(0);
        // 2 pods: exploring missed the third (see the test above); then 4/4 is even.
        if (perPod.size() >= 2 && most - least <= 1) {
          return;
        }
      }
    }
    throw new AssertionError("the pool did not settle: " + channel.shardIdentities());
  }

  private static void awaitAllShardsReady(ShardedChannel channel) {
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> allShardsAre(channel, ConnectivityState.READY));
  }
}
