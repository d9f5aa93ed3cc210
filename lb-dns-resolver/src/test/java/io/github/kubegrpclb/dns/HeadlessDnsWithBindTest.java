package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.BindDnsServer;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Against a real BIND 9 (Debian package bind9) started on a loopback port, with records changed
 * mid-test by RFC 2136 dynamic updates. Skipped with a message where BIND is missing; fails in CI.
 */
class HeadlessDnsWithBindTest {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";

  @Test
  void recordsChangedByDynamicUpdate_podsJoinAndLeaveTheRotation() throws Exception {
    try (BindDnsServer bind = BindDnsServer.start();
        LoopbackPods pods = LoopbackPods.start(3)) {
      String[] ips =
          pods.all().stream()
              .map(pod -> pod.address().getAddress().getHostAddress())
              .toArray(String[]::new);
      bind.setA(HOST, 1, ips[0], ips[1]);
      ManagedChannel channel =
          Grpc.newChannelBuilder(
                  "headless://" + bind.authority() + "/" + HOST + ":" + pods.port(),
                  InsecureChannelCredentials.create())
              .build();
      ChannelReadiness.awaitEveryPod(channel, List.of("pod-0", "pod-1"));
      try (RpcLoad load = RpcLoad.start(channel, 2, CallOptions.DEFAULT)) {
        await()
            .atMost(Duration.ofSeconds(5))
            .until(() -> load.snapshot().perPod().keySet().size() == 2);
        LoopbackPod third = pods.get(2);
        assertThat(load.snapshot().served(third.name())).isZero();

        bind.setA(HOST, 1, ips);
        await().atMost(Duration.ofSeconds(3)).until(() -> load.snapshot().served(third.name()) > 0);

        bind.setA(HOST, 1, ips[1], ips[2]);
        LoopbackPod first = pods.get(0);
        load.awaitNoTrafficTo(first, 300, Duration.ofSeconds(5));
        assertThat(load.snapshot().failures()).isZero();
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void srvAnswerNamingAPodWithoutARecord_theOtherTwoServeEveryFailFastRpc() throws Exception {
    try (BindDnsServer bind = BindDnsServer.start();
        LoopbackPods pods = LoopbackPods.start(3)) {
      String[] targets = new String[3];
      for (int i = 0; i < 3; i++) {
        targets[i] = "pod-" + i + "." + HOST;
      }
      bind.setA(targets[0], 30, pods.get(0).address().getAddress().getHostAddress());
      bind.setA(targets[1], 30, pods.get(1).address().getAddress().getHostAddress());
      pods.get(2).stop(); // deleted: no A record, but the SRV records still name it
      bind.setSrv("_grpc._tcp." + HOST, 30, pods.port(), targets);
      ManagedChannel channel =
          Grpc.newChannelBuilder(
                  "headless://" + bind.authority() + "/" + HOST + ":grpc",
                  InsecureChannelCredentials.create())
              .build();
      try {
        RpcLoad.Result result = RpcLoad.run(channel, 3000, 2, CallOptions.DEFAULT);

        assertThat(result.failures()).as("%s", result).isZero();
        assertThat(result.perPod()).containsOnlyKeys("pod-0", "pod-1");
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }
}
