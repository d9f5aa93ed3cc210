package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.core.LbDebug;
import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.github.kubegrpclb.testing.TestMetrics;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The headless resolver's instruments, read back through a real SDK, against a real DNS server. */
class HeadlessDnsTelemetryTest {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";
  private static final String ERRORS = "kube_grpc_lb.resolver.errors";

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private final TestMetrics metrics = cleanup.add(new TestMetrics());
  private final TestDnsServer dns = cleanup.add(TestDnsServer.start());

  private ManagedChannel channel(String target) {
    return cleanup.channel(
        Grpc.newChannelBuilder(target, InsecureChannelCredentials.create())
            .setNameResolverArg(
                HeadlessDnsOptions.KEY,
                HeadlessDnsOptions.builder()
                    .ttlFloor(Duration.ofMillis(100))
                    .telemetry(LbTelemetry.create(metrics.openTelemetry()))
                    .build())
            .build());
  }

  @Test
  void answer_publishesAnUpdateWithItsLag_thenNxdomainAndServfailCountedByKind() {
    LoopbackPods pods = cleanup.add(LoopbackPods.start(2));
    dns.setA(HOST, 1, pods.get(0).address().getAddress().getHostAddress());
    String target = "headless://" + dns.authority() + "/" + HOST + ":" + pods.port();
    ManagedChannel channel = channel(target);

    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0"));

    assertThat(metrics.sum("kube_grpc_lb.resolver.updates", Map.of("resolver", "headless")))
        .isEqualTo(1);
    assertThat(metrics.histogramCount("kube_grpc_lb.resolver.update.lag", Map.of("target", target)))
        .isEqualTo(1);
    assertThat(metrics.histogramMax("kube_grpc_lb.resolver.update.lag", Map.of())).isLessThan(5.0);
    assertThat(LbDebug.snapshot(target))
        .contains("headless resolver for " + target + ": 1 endpoints");

    dns.setMode(TestDnsServer.Mode.SERVFAIL);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> metrics.sum(ERRORS, Map.of("error.type", "servfail")) >= 1);
    assertThat(metrics.value("kube_grpc_lb.resolver.last_success.age", Map.of()))
        .isGreaterThan(0.0);

    dns.setMode(TestDnsServer.Mode.NORMAL);
    dns.remove(HOST);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> metrics.sum(ERRORS, Map.of("error.type", "nxdomain")) >= 1);
    assertThat(metrics.sum(ERRORS, Map.of("error.type", "other"))).isZero();
  }

  @Test
  void largeSrvAnswer_truncatedOverUdp_countsOneTcpFallbackPerQuery_smallAnswerNone() {
    String srv = "_grpc._tcp." + HOST;
    String[] hosts = new String[100];
    for (int i = 0; i < hosts.length; i++) {
      hosts[i] = "pod-" + i + "." + HOST;
      dns.setA(hosts[i], 30, "10.1.0." + (i + 1));
    }
    dns.setAdditionalSection(true); // as CoreDNS: every target's address in the answer
    dns.setSrv(srv, 30, 50051, hosts);
    dns.setSrv("_grpc._tcp.small." + HOST, 30, 50051, hosts[0], hosts[1]);
    HeadlessDnsOptions options =
        HeadlessDnsOptions.builder().telemetry(LbTelemetry.create(metrics.openTelemetry())).build();
    Map<String, String> tcpFallback = Map.of("error.type", "tcp_fallback");

    try (FakeClockResolver small =
        FakeClockResolver.start(dns, "small." + HOST + ":grpc", options)) {
      assertThat(FakeClockResolver.addresses(small.awaitResults(1))).hasSize(2);
    }
    assertThat(dns.tcpQueries()).isZero();
    assertThat(metrics.sum(ERRORS, tcpFallback)).isZero();

    try (FakeClockResolver large = FakeClockResolver.start(dns, HOST + ":grpc", options)) {
      assertThat(FakeClockResolver.addresses(large.awaitResults(1))).hasSize(100);
      assertThat(dns.tcpQueries()).as("the SRV query, repeated over TCP").isOne();
      assertThat(
              metrics.value(
                  ERRORS,
                  Map.of(
                      "error.type",
                      "tcp_fallback",
                      "target",
                      "headless://" + dns.authority() + "/" + HOST + ":grpc")))
          .isEqualTo(1);
      assertThat(metrics.sum(ERRORS, Map.of("error.type", "other"))).isZero();
    }
  }
}
