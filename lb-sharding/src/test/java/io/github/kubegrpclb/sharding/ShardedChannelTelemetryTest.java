package io.github.kubegrpclb.sharding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.core.LbDebug;
import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.KubeProxyRules;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.MaxAgePods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.TestMetrics;
import io.grpc.CallOptions;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A ShardedChannel's metrics with the OpenTelemetry SDK's in-memory reader, on the real dataplane:
 * kube-proxy's iptables rules for a ClusterIP in front of loopback pods whose servers close every
 * connection at their {@code maxConnectionAge}, inside the test JVM's private network namespace.
 */
class ShardedChannelTelemetryTest {
  private static final int SHARDS = 4;

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  @Test
  void serversWithMaxConnectionAge_everyClosedConnectionIsCountedAsARecycle() throws Exception {
    KubeProxyRules.require();
    MaxAgePods pods =
        cleanup.add(MaxAgePods.start(3, Duration.ofMillis(500), Duration.ofSeconds(10)));
    InetSocketAddress vip =
        new InetSocketAddress(InetAddress.getByName("127.96.0.10"), pods.port());
    KubeProxyRules.apply(vip, pods.addresses());
    String target = "127.96.0.10:" + pods.port();
    TestMetrics metrics = cleanup.add(new TestMetrics());
    Map<String, String> channel = Map.of("target", target);
    ShardedChannel sharded =
        cleanup.channel(
            ShardedChannel.newBuilder(target)
                .connections(SHARDS)
                .maxConnectionAge(Duration.ZERO) // the servers recycle
                .podIdentityHeader(LoopbackPod.POD_HEADER.name())
                .telemetry(LbTelemetry.create(metrics.openTelemetry()))
                .build());

    long accepted;
    try (RpcLoad load = RpcLoad.start(sharded, 2, CallOptions.DEFAULT)) {
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> pods.acceptedConnections() >= SHARDS + 20 && load.snapshot().succeeded() > 0);
      accepted = pods.acceptedConnections();
      for (int collection = 0; collection < 5; collection++) {
        assertThat(metrics.sum("kube_grpc_lb.shards", channel)).isEqualTo(SHARDS);
      }
      assertThat(load.snapshot().failures()).as("%s", load.snapshot()).isZero();
    }

    // Every connection accepted after the first ones replaced a closed one (counted when the
    // shard left READY) or was a re-dial of a duplicate pod.
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(
                        metrics.sum(
                                "kube_grpc_lb.shard.recycles",
                                Map.of("target", target, "reason", "connection_closed"))
                            + metrics.sum(
                                "kube_grpc_lb.shard.redials",
                                Map.of("target", target, "result", "dialed")))
                    .isGreaterThanOrEqualTo(accepted - SHARDS));
    // The budget: three re-dials per shard in a period (5 minutes when the channel does not age).
    assertThat(
            metrics.sum("kube_grpc_lb.shard.redials", Map.of("target", target, "result", "dialed")))
        .isLessThanOrEqualTo(ShardPool.REDIALS_PER_SHARD * SHARDS);
    assertThat(metrics.value("kube_grpc_lb.shard.pods_reached", channel)).isBetween(1.0, 3.0);
    assertThat(metrics.sum("kube_grpc_lb.shards", channel)).isEqualTo(SHARDS);
    String snapshot = LbDebug.snapshot(target);
    System.out.printf("%d connections accepted; %s%n", accepted, snapshot);
    assertThat(snapshot).startsWith("sharded channel for " + target + ": ");
    assertThat(snapshot.lines()).hasSize(1 + SHARDS);
  }
}
