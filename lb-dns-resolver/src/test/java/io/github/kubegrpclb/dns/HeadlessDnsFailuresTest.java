package io.github.kubegrpclb.dns;

import static io.github.kubegrpclb.dns.FakeClockResolver.hostPorts;
import static io.github.kubegrpclb.dns.FakeClockResolver.note;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.NameResolver.ResolutionResult;
import io.grpc.Status;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.xbill.DNS.Type;

/**
 * The headless resolver against the DNS answers of a misconfigured or flaky cluster (issue 22): a
 * lost AAAA answer, REFUSED, a misnamed or scaled-to-zero Service, a ClusterIP Service. A real DNS
 * server; the resolver's timers on a fake clock.
 */
class HeadlessDnsFailuresTest {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";
  private static final HeadlessDnsOptions SHORT_TIMEOUT =
      HeadlessDnsOptions.builder().queryTimeout(Duration.ofMillis(200)).build();

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private TestDnsServer dns;

  @BeforeEach
  void startDns() {
    dns = cleanup.add(TestDnsServer.start());
  }

  private FakeClockResolver start(String hostPort, HeadlessDnsOptions options) {
    return cleanup.add(FakeClockResolver.start(dns, hostPort, options));
  }

  /* Runs the resolver's timer once and waits until the resolution it starts has been handled. */
  private static void nextResolution(FakeClockResolver harness) {
    harness.clock.forward(harness.awaitNextDelay());
    harness.awaitNextDelay();
  }

  @Test
  void refused_errorSaysWhatItMeans_withoutAStackTrace() {
    dns.setMode(TestDnsServer.Mode.REFUSED);
    FakeClockResolver harness = start(HOST + ":50051", HeadlessDnsOptions.defaults());

    Status status = harness.awaitResults(1).getAddressesOrError().getStatus();

    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(status.getDescription())
        .contains(HOST, "REFUSED", "does not serve the zone", "refuses recursion")
        .doesNotContain("Unknown non-success");
    assertThat(status.getCause()).isNull();
  }

  @Test
  void familyAuto_ipv6OnlyService_lostAaaaAnswer_keepsTheLastAddresses() {
    dns.setAaaa(HOST, 1, "::1");
    FakeClockResolver harness = start(HOST + ":50051", SHORT_TIMEOUT);
    assertThat(hostPorts(harness.awaitResults(1))).containsExactly("0:0:0:0:0:0:0:1:50051");
    harness.awaitNextDelay();

    dns.setMode(HOST, Type.AAAA, TestDnsServer.Mode.TIMEOUT); // A: NODATA, AAAA: no answer
    nextResolution(harness);

    assertThat(harness.results).hasSize(1); // no empty set published
    assertThat(harness.logger.count("keeping the last 1 addresses")).isEqualTo(1);
  }

  @Test
  void familyAuto_srvTargetWithoutAdditionalSection_lostAaaaAnswer_keepsItsLastAddresses() {
    String pod = "pod-0." + HOST;
    dns.setAaaa(pod, 1, "::1");
    dns.setSrv("_grpc._tcp." + HOST, 1, 50051, pod);
    FakeClockResolver harness = start(HOST + ":grpc", SHORT_TIMEOUT);
    assertThat(hostPorts(harness.awaitResults(1))).containsExactly("0:0:0:0:0:0:0:1:50051");
    harness.awaitNextDelay();

    dns.setMode(pod, Type.AAAA, TestDnsServer.Mode.TIMEOUT);
    nextResolution(harness);

    ResolutionResult latest = harness.results.get(harness.results.size() - 1);
    assertThat(hostPorts(latest)).containsExactly("0:0:0:0:0:0:0:1:50051");
  }

  @Test
  void nxdomain_withoutSoa_backsOffExponentially_fewQueriesPerMinute() {
    FakeClockResolver harness =
        start("missing.my-ns.svc.cluster.local:50051", HeadlessDnsOptions.defaults());
    harness.awaitResults(1);

    Duration elapsed = Duration.ZERO;
    for (int i = 0; i < 100; i++) {
      Duration next = harness.awaitNextDelay();
      if (elapsed.plus(next).compareTo(Duration.ofMinutes(1)) > 0) {
        break;
      }
      elapsed = elapsed.plus(next);
      nextResolution(harness);
    }
    int queries = dns.udpQueries() + dns.tcpQueries();
    System.out.printf("NXDOMAIN without SOA: %d queries in one minute%n", queries);

    // Every ttlFloor (1 s) it was 60 resolutions of 2 queries (A, then AAAA for family=auto); the
    // backoff 1, 2, 4, 8, 8 ... s makes it about 10.
    assertThat(queries).isLessThanOrEqualTo(24);
  }

  @Test
  void nxdomain_withoutSoa_backoffStopsAt8TtlFloors_soAServiceScaledUpFromZeroIsFoundInSeconds() {
    FakeClockResolver harness =
        start("missing.my-ns.svc.cluster.local:50051", HeadlessDnsOptions.defaults());
    harness.awaitResults(1);
    for (int i = 0; i < 8; i++) {
      nextResolution(harness);
    }

    // Before: 1, 2, 4 ... up to ttlCap (30 s) between queries while the first pod was starting.
    assertThat(harness.awaitNextDelay()).isLessThanOrEqualTo(Duration.ofMillis(9_600));
  }

  @Test
  void nxdomain_withSoa_waitsTheNegativeTtl() {
    dns.setNegativeTtl(10);
    FakeClockResolver harness =
        start("missing.my-ns.svc.cluster.local:50051", HeadlessDnsOptions.defaults());
    harness.awaitResults(1);

    assertThat(harness.awaitNextDelay()).isEqualTo(Duration.ofSeconds(10));
    nextResolution(harness);
    assertThat(harness.awaitNextDelay())
        .isEqualTo(Duration.ofSeconds(10)); // the SOA minimum, not a backoff
  }

  @Test
  void nxdomain_refreshFromTheChannel_waitsForTheBackoff() {
    FakeClockResolver harness =
        start("missing.my-ns.svc.cluster.local:50051", HeadlessDnsOptions.defaults());
    harness.awaitResults(1);
    nextResolution(harness); // the backoff is 2 s from here
    int queries = dns.udpQueries();

    harness.clock.forward(Duration.ofMillis(1500)); // past refreshInterval, before the timer
    harness.syncContext.execute(harness.resolver::refresh);

    assertThat(harness.clock.pendingTasks()).isEqualTo(1);
    assertThat(dns.udpQueries()).isEqualTo(queries);
  }

  @Test
  void clusterIpService_srvNamesTheServiceItself_noteNamesTheFix_warnsOnce() {
    dns.setA(HOST, 1, "10.96.0.12");
    dns.setSrv("_grpc._tcp." + HOST, 1, 50051, HOST);
    FakeClockResolver harness = start(HOST + ":grpc", HeadlessDnsOptions.defaults());

    assertThat(note(harness.awaitResults(1)))
        .contains(
            "names the Service itself", "clusterIP: None", "kubernetes:///", "ShardedChannel");
    nextResolution(harness);
    nextResolution(harness);
    assertThat(harness.logger.count("WARNING: headless DNS: _grpc._tcp." + HOST)).isEqualTo(1);
  }

  @Test
  void oneAddressThatStaysTheOnlyOne_hintsAtAClusterIpService_afterAMinute() {
    dns.setA(HOST, 30, "10.96.0.12");
    FakeClockResolver harness = start(HOST + ":50051", HeadlessDnsOptions.defaults());
    assertThat(note(harness.awaitResults(1))).isNull();

    nextResolution(harness); // 30 s: not yet
    assertThat(harness.results).hasSize(1);
    nextResolution(harness); // 60 s, 3 answers

    assertThat(note(harness.awaitResults(2)))
        .contains("one address (10.96.0.12) in 3 answers in a row over 60 s", "clusterIP: None");
    nextResolution(harness);
    assertThat(harness.logger.count("clusterIP: None")).isEqualTo(1);
  }

  @Test
  void twoAddresses_noClusterIpHint() {
    dns.setA(HOST, 1, "10.0.0.1", "10.0.0.2");
    FakeClockResolver harness = start(HOST + ":50051", HeadlessDnsOptions.defaults());
    harness.awaitResults(1);
    for (int i = 0; i < 4; i++) {
      nextResolution(harness);
    }

    assertThat(harness.results).hasSize(1);
    assertThat(harness.logger.count("clusterIP")).isZero();
  }
}
