package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver.ResolutionResult;
import io.grpc.Status;
import io.grpc.SynchronizationContext;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Refresh timing of the resolver with a fake clock (no sleeps), against a real DNS server: TTL
 * clamping, rate-limited refresh, backoff, TCP fallback and error publishing.
 */
class HeadlessDnsRefreshTest {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private TestDnsServer dns;
  private FakeClockResolver harness;
  private FakeClock clock;
  private SynchronizationContext syncContext;
  private HeadlessDnsNameResolver resolver;
  private List<ResolutionResult> results;

  @BeforeEach
  void startDns() {
    dns = cleanup.add(TestDnsServer.start());
  }

  private HeadlessDnsNameResolver start(String hostPort, HeadlessDnsOptions options) {
    harness = cleanup.add(FakeClockResolver.start(dns, hostPort, options));
    clock = harness.clock;
    syncContext = harness.syncContext;
    resolver = harness.resolver;
    results = harness.results;
    return resolver;
  }

  private void awaitResults(int count) {
    harness.awaitResults(count);
  }

  private Duration awaitNextDelay() {
    return harness.awaitNextDelay();
  }

  private static List<EquivalentAddressGroup> addresses(ResolutionResult result) {
    return FakeClockResolver.addresses(result);
  }

  @Test
  void ttl_nextResolutionAtTheSmallestTtl() {
    dns.setA(HOST, 7, "10.0.0.1", "10.0.0.2");
    start(HOST + ":50051", HeadlessDnsOptions.defaults());

    awaitResults(1);
    assertThat(addresses(results.get(0))).hasSize(2);
    assertThat(awaitNextDelay()).isEqualTo(Duration.ofSeconds(7));

    int queries = dns.udpQueries();
    dns.setA(HOST, 7, "10.0.0.1", "10.0.0.2", "10.0.0.3");
    clock.forward(Duration.ofSeconds(7));
    awaitResults(2);
    assertThat(dns.udpQueries()).isEqualTo(queries + 1);
    assertThat(addresses(results.get(1))).hasSize(3);
  }

  @Test
  void ttl_clampedToFloorAndCap() {
    dns.setA(HOST, 0, "10.0.0.1");
    start(HOST + ":50051", HeadlessDnsOptions.defaults());
    awaitResults(1);
    assertThat(awaitNextDelay()).isEqualTo(Duration.ofSeconds(1));

    dns.setA(HOST, 3600, "10.0.0.2");
    clock.forward(Duration.ofSeconds(1));
    awaitResults(2);
    assertThat(awaitNextDelay()).isEqualTo(Duration.ofSeconds(30));
  }

  @Test
  void unchangedAnswer_notRepublished() {
    dns.setA(HOST, 1, "10.0.0.1");
    start(HOST + ":50051", HeadlessDnsOptions.defaults());
    awaitResults(1);
    awaitNextDelay();
    int queries = dns.udpQueries();

    clock.forward(Duration.ofSeconds(1));
    await().atMost(Duration.ofSeconds(5)).until(() -> dns.udpQueries() > queries);
    awaitNextDelay();

    assertThat(results).hasSize(1);
  }

  @Test
  void refresh_rateLimitedToOncePerInterval() {
    dns.setA(HOST, 30, "10.0.0.1");
    start(HOST + ":50051", HeadlessDnsOptions.defaults());
    awaitResults(1);
    awaitNextDelay();
    int queries = dns.udpQueries();

    clock.forward(Duration.ofMillis(400));
    syncContext.execute(resolver::refresh);
    syncContext.execute(resolver::refresh);

    // The first resolution started 400 ms ago: the refresh waits for the 1 s mark, once.
    assertThat(dns.udpQueries()).isEqualTo(queries);
    assertThat(clock.pendingDelays()).containsExactly(Duration.ofMillis(600));
    clock.forward(Duration.ofMillis(600));
    await().atMost(Duration.ofSeconds(5)).until(() -> dns.udpQueries() == queries + 1);

    awaitNextDelay();
    clock.forward(Duration.ofSeconds(1));
    syncContext.execute(resolver::refresh); // a second later: at once
    await().atMost(Duration.ofSeconds(5)).until(() -> dns.udpQueries() == queries + 2);
  }

  @Test
  void servfail_keepsLastGoodAndBacksOff() {
    dns.setA(HOST, 1, "10.0.0.1");
    start(HOST + ":50051", HeadlessDnsOptions.defaults());
    awaitResults(1);
    awaitNextDelay();

    dns.setMode(TestDnsServer.Mode.SERVFAIL);
    clock.forward(Duration.ofSeconds(1));
    assertThat(awaitNextDelay()).isEqualTo(Duration.ofSeconds(1)); // 1 s x jitter 1.0
    clock.forward(Duration.ofSeconds(1));
    assertThat(awaitNextDelayChangedFrom()).isEqualTo(Duration.ofSeconds(2));

    assertThat(results).hasSize(1);
  }

  private Duration awaitNextDelayChangedFrom() {
    return harness.awaitNextDelayOtherThan(Duration.ZERO);
  }

  @Test
  void hundredPods_truncatedUdpAnswer_retriedOverTcp() {
    String[] ips = new String[100];
    for (int i = 0; i < 100; i++) {
      ips[i] = "10.1." + (i / 250) + "." + (i % 250 + 1);
    }
    dns.setA(HOST, 30, ips);
    start(HOST + ":50051", HeadlessDnsOptions.defaults());

    awaitResults(1);
    assertThat(addresses(results.get(0))).hasSize(100);
    assertThat(dns.tcpQueries()).isPositive();
  }

  @Test
  void nxdomain_publishesEmptySetWithANoteNamingTheHost() {
    start("missing.my-ns.svc.cluster.local:50051", HeadlessDnsOptions.defaults());

    awaitResults(1);
    assertThat(addresses(results.get(0))).isEmpty();
    assertThat(
            results
                .get(0)
                .getAttributes()
                .get(io.github.kubegrpclb.core.EndpointAttributes.RESOLUTION_NOTE))
        .contains("missing.my-ns.svc.cluster.local", "NXDOMAIN");
  }

  @Test
  void timeoutOnFirstResolution_publishesAnErrorNamingTheTarget() {
    dns.setMode(TestDnsServer.Mode.TIMEOUT);
    start(
        HOST + ":50051", HeadlessDnsOptions.builder().queryTimeout(Duration.ofMillis(200)).build());

    awaitResults(1);
    Status status = results.get(0).getAddressesOrError().getStatus();
    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(status.getDescription()).contains(HOST, "failed", "retrying in");
  }

  @Test
  void familyAuto_ipv6OnlyName_usesAaaa() {
    dns.setAaaa(HOST, 30, "fd00::1", "fd00::2");
    start(HOST + ":50051", HeadlessDnsOptions.defaults());

    awaitResults(1);
    assertThat(addresses(results.get(0))).hasSize(2);
  }

  @Test
  void familyBoth_dualStack_usesBoth() {
    dns.setA(HOST, 30, "10.0.0.1");
    dns.setAaaa(HOST, 30, "fd00::1");
    start(HOST + ":50051?family=both", HeadlessDnsOptions.defaults());

    awaitResults(1);
    assertThat(addresses(results.get(0))).hasSize(2);
  }
}
