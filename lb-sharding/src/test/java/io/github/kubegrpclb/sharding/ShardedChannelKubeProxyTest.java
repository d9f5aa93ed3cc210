package io.github.kubegrpclb.sharding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.KubeProxyRules;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * On the real dataplane: kube-proxy's iptables rules (statistic random + DNAT) for a ClusterIP
 * 127.96.0.10 in front of loopback pods, inside the test JVM's private network namespace.
 */
class ShardedChannelKubeProxyTest {
  private static final CallOptions WAIT_FOR_READY = CallOptions.DEFAULT.withWaitForReady();

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

    RpcLoad.Result result = RpcLoad.run(channel, 3000, 4, WAIT_FOR_READY);

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

    try (RpcLoad load = RpcLoad.start(channel, 4, WAIT_FOR_READY)) {
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
    try (RpcLoad load = RpcLoad.start(channel, 4, WAIT_FOR_READY)) {
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
    ShardedChannel channel =
        closing(
            ShardedChannel.newBuilder(target())
                .connections(4)
                .maxConnectionAge(Duration.ofMillis(300))
                .build());
    try (RpcLoad load = RpcLoad.start(channel, 4, CallOptions.DEFAULT)) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.snapshot().succeeded() > 20_000);
      assertThat(load.snapshot().failures()).as("%s", load.snapshot()).isZero();
      assertThat(load.snapshot().perPod()).hasSizeGreaterThan(1);
    }
  }
}
