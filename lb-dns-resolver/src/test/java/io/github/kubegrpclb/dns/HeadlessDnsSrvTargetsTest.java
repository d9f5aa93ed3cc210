package io.github.kubegrpclb.dns;

import static io.github.kubegrpclb.dns.FakeClockResolver.addresses;
import static io.github.kubegrpclb.dns.FakeClockResolver.hostPorts;
import static io.github.kubegrpclb.dns.FakeClockResolver.note;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.github.kubegrpclb.testing.TestDnsServer.SrvTarget;
import io.grpc.NameResolver.ResolutionResult;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.xbill.DNS.Type;

/**
 * How SRV targets resolve one by one, against a real DNS server over UDP/TCP, with the resolver's
 * timers on a fake clock: missing, timing-out and malformed targets, the additional section, CNAME
 * chains, and a 1,000-pod answer.
 */
class HeadlessDnsSrvTargetsTest {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";
  private static final String SRV = "_grpc._tcp." + HOST;
  private static final int PORT = 8443;

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private TestDnsServer dns;

  @BeforeEach
  void startDns() {
    dns = cleanup.add(TestDnsServer.start());
  }

  private FakeClockResolver start(HeadlessDnsOptions options) {
    return cleanup.add(FakeClockResolver.start(dns, HOST + ":grpc", options));
  }

  private static String pod(int i) {
    return "pod-" + i + "." + HOST;
  }

  /** Three pods 10.0.0.1-3 behind SRV records on {@link #PORT}, TTL 5 s. */
  private void threePods() {
    for (int i = 0; i < 3; i++) {
      dns.setA(pod(i), 5, "10.0.0." + (i + 1));
    }
    dns.setSrv(SRV, 5, PORT, pod(0), pod(1), pod(2));
  }

  @Test
  void targetWithoutARecord_droppedWithANote_othersPublished() {
    threePods();
    dns.remove(pod(2));

    ResolutionResult result = start(HeadlessDnsOptions.defaults()).awaitResults(1);

    assertThat(hostPorts(result)).containsExactly("10.0.0.1:8443", "10.0.0.2:8443");
    assertThat(note(result)).contains(SRV, "1 of 3", pod(2), "NXDOMAIN", "dropped");
  }

  @Test
  void targetTimesOut_keepsItsLastAddresses_othersUpdate() {
    threePods();
    FakeClockResolver r =
        start(HeadlessDnsOptions.builder().queryTimeout(Duration.ofMillis(300)).build());
    r.awaitResults(1);
    assertThat(r.awaitNextDelay()).isEqualTo(Duration.ofSeconds(5));

    dns.setMode(pod(1), TestDnsServer.Mode.TIMEOUT);
    dns.setA(pod(2), 5, "10.0.0.33"); // pod-2 replaced
    r.clock.forward(Duration.ofSeconds(5));

    ResolutionResult second = r.awaitResults(2);
    assertThat(hostPorts(second))
        .containsExactly("10.0.0.1:8443", "10.0.0.2:8443", "10.0.0.33:8443");
    assertThat(note(second)).contains(pod(1), "keeping its last 1 address");
    // The failing target is retried at the backoff (1 s), not at the 5 s TTL.
    assertThat(r.awaitNextDelay()).isEqualTo(Duration.ofSeconds(1));

    dns.setMode(pod(1), TestDnsServer.Mode.NORMAL);
    dns.setA(pod(1), 5, "10.0.0.22");
    r.clock.forward(Duration.ofSeconds(1));
    ResolutionResult third = r.awaitResults(3);
    assertThat(hostPorts(third))
        .containsExactly("10.0.0.1:8443", "10.0.0.22:8443", "10.0.0.33:8443");
    assertThat(note(third)).isNull();
  }

  @Test
  void everyTargetTimesOut_keepsTheLastSetAndBacksOff() {
    threePods();
    FakeClockResolver r =
        start(HeadlessDnsOptions.builder().queryTimeout(Duration.ofMillis(300)).build());
    r.awaitResults(1);
    r.awaitNextDelay();

    for (int i = 0; i < 3; i++) {
      dns.setMode(pod(i), TestDnsServer.Mode.TIMEOUT);
    }
    r.clock.forward(Duration.ofSeconds(5));
    assertThat(r.awaitNextDelayOtherThan(Duration.ZERO)).isEqualTo(Duration.ofSeconds(1));
    r.clock.forward(Duration.ofSeconds(1));
    assertThat(r.awaitNextDelayOtherThan(Duration.ZERO)).isEqualTo(Duration.ofSeconds(2));

    // Each target keeps its last addresses: the set is unchanged, with a note saying why.
    assertThat(r.results).hasSize(2);
    assertThat(hostPorts(r.results.get(1))).isEqualTo(hostPorts(r.results.get(0))).hasSize(3);
    assertThat(note(r.results.get(1))).contains("3 of 3", "keeping its last 1 address");
  }

  @Test
  void firstResolution_everyTargetTimesOut_failsNamingTheTargets() {
    threePods();
    for (int i = 0; i < 3; i++) {
      dns.setMode(pod(i), TestDnsServer.Mode.TIMEOUT);
    }

    ResolutionResult result =
        start(HeadlessDnsOptions.builder().queryTimeout(Duration.ofMillis(300)).build())
            .awaitResults(1);

    assertThat(result.getAddressesOrError().getStatus().getDescription())
        .contains(SRV, "3 of 3 SRV targets unusable", pod(0), "retrying in");
  }

  @Test
  void everyTargetMissing_publishesAnEmptySetWithANote() {
    dns.setSrv(SRV, 5, PORT, pod(0), pod(1));

    ResolutionResult result = start(HeadlessDnsOptions.defaults()).awaitResults(1);

    assertThat(addresses(result)).isEmpty();
    assertThat(note(result)).contains("2 of 2", pod(0), pod(1), "NXDOMAIN");
  }

  @Test
  void srvPortZeroAndTargetDot_rejectedWithANote() {
    dns.setA(pod(0), 5, "10.0.0.1");
    dns.setA(pod(1), 5, "10.0.0.2");
    dns.setSrv(
        SRV,
        List.of(
            new SrvTarget(pod(0), PORT, 5),
            new SrvTarget(pod(1), 0, 5),
            new SrvTarget(".", 80, 5)));

    ResolutionResult result = start(HeadlessDnsOptions.defaults()).awaitResults(1);

    assertThat(hostPorts(result)).containsExactly("10.0.0.1:8443");
    assertThat(note(result))
        .contains("port 0 for " + pod(1) + ".", "(expected: 1..65535)", "SRV target \".\"");
  }

  @Test
  void onlyTargetDot_serviceNotAvailable_emptySetWithANote() {
    dns.setSrv(SRV, List.of(new SrvTarget(".", 0, 5)));

    ResolutionResult result = start(HeadlessDnsOptions.defaults()).awaitResults(1);

    assertThat(addresses(result)).isEmpty();
    assertThat(note(result)).contains("SRV target \".\": the service is not available");
  }

  @Test
  void additionalSection_addressesTakenFromIt_oneQueryPerResolution() {
    threePods();
    dns.setAdditionalSection(true);

    ResolutionResult result = start(HeadlessDnsOptions.defaults()).awaitResults(1);

    assertThat(hostPorts(result))
        .containsExactly("10.0.0.1:8443", "10.0.0.2:8443", "10.0.0.3:8443");
    assertThat(dns.queries(Type.SRV)).isEqualTo(1);
    assertThat(dns.queries(Type.A) + dns.queries(Type.AAAA)).isZero();
  }

  @Test
  void sameTargetOnTwoPorts_oneAddressPerPort() {
    dns.setA(pod(0), 5, "10.0.0.1");
    dns.setSrv(SRV, List.of(new SrvTarget(pod(0), 8443, 5), new SrvTarget(pod(0), 9443, 5)));

    ResolutionResult result = start(HeadlessDnsOptions.defaults()).awaitResults(1);

    assertThat(hostPorts(result)).containsExactly("10.0.0.1:8443", "10.0.0.1:9443");
    assertThat(dns.queries(Type.A)).isEqualTo(1);
  }

  @Test
  void cnameChain_followedToTheAddresses_andRepointingIsSeenAtTheNextRefresh() {
    dns.setCname("alias.my-ns.svc.cluster.local", 1, "alias2.my-ns.svc.cluster.local");
    dns.setCname("alias2.my-ns.svc.cluster.local", 1, HOST);
    dns.setA(HOST, 1, "10.0.0.1", "10.0.0.2");
    dns.setA("other.my-ns.svc.cluster.local", 1, "10.0.0.9");
    FakeClockResolver r =
        cleanup.add(
            FakeClockResolver.start(
                dns, "alias.my-ns.svc.cluster.local:50051", HeadlessDnsOptions.defaults()));
    assertThat(hostPorts(r.awaitResults(1))).containsExactly("10.0.0.1:50051", "10.0.0.2:50051");
    assertThat(r.awaitNextDelay()).isEqualTo(Duration.ofSeconds(1));

    dns.setCname("alias2.my-ns.svc.cluster.local", 1, "other.my-ns.svc.cluster.local");
    r.clock.forward(Duration.ofSeconds(1));

    assertThat(hostPorts(r.awaitResults(2))).containsExactly("10.0.0.9:50051");
  }

  @Test
  void cnameTtlShorterThanTheAddressTtl_refreshAtTheCnameTtl() {
    dns.setCname("alias.my-ns.svc.cluster.local", 2, HOST);
    dns.setA(HOST, 30, "10.0.0.1");
    FakeClockResolver r =
        cleanup.add(
            FakeClockResolver.start(
                dns, "alias.my-ns.svc.cluster.local:50051", HeadlessDnsOptions.defaults()));

    assertThat(hostPorts(r.awaitResults(1))).containsExactly("10.0.0.1:50051");
    assertThat(r.awaitNextDelay()).isEqualTo(Duration.ofSeconds(2));
  }

  @Test
  void srvTargetIsACname_followed() {
    dns.setCname(pod(0), 5, "real-pod-0." + HOST);
    dns.setA("real-pod-0." + HOST, 5, "10.0.0.1");
    dns.setA(pod(1), 5, "10.0.0.2");
    dns.setSrv(SRV, 5, PORT, pod(0), pod(1));

    ResolutionResult result = start(HeadlessDnsOptions.defaults()).awaitResults(1);

    assertThat(hostPorts(result)).containsExactly("10.0.0.1:8443", "10.0.0.2:8443");
  }

  /** 1,000 pods named as CoreDNS names them: {@code 10-1-3-232.my-svc.my-ns.svc.cluster.local}. */
  private static String[] thousandPods(TestDnsServer dns) {
    String[] targets = new String[1000];
    for (int i = 0; i < targets.length; i++) {
      String ip = "10.1." + (i / 250) + "." + (i % 250 + 1);
      targets[i] = ip.replace('.', '-') + "." + HOST;
      dns.setA(targets[i], 30, ip);
    }
    dns.setSrv(SRV, 30, PORT, targets);
    return targets;
  }

  private long resolveThousand(boolean additionalSection) {
    dns.setAdditionalSection(additionalSection);
    long start = System.nanoTime();
    FakeClockResolver r = cleanup.add(FakeClockResolver.start(dns, HOST + ":grpc", options()));
    ResolutionResult result = r.awaitResults(1, Duration.ofSeconds(20)); // typically well under 1 s
    long elapsed = System.nanoTime() - start;
    assertThat(note(result)).isNull();
    assertThat(hostPorts(result))
        .hasSize(1000)
        .contains("10.1.0.1:8443", "10.1.3.250:8443")
        .allMatch(hostPort -> hostPort.startsWith("10.1.") && hostPort.endsWith(":8443"));
    return elapsed;
  }

  private static HeadlessDnsOptions options() {
    return HeadlessDnsOptions.builder().queryTimeout(Duration.ofSeconds(4)).build();
  }

  @Test
  void thousandTargets_truncatedUdpAnswer_retriedOverTcp_allResolved() {
    thousandPods(dns);
    int tcpBefore = dns.tcpQueries();
    resolveThousand(true); // warm-up: classes, JIT
    assertThat(dns.tcpQueries()).isGreaterThan(tcpBefore);

    int aBefore = dns.queries(Type.A);
    long without = resolveThousand(false);
    int aWithout = dns.queries(Type.A) - aBefore;
    aBefore = dns.queries(Type.A);
    long with = resolveThousand(true);
    int aWith = dns.queries(Type.A) - aBefore;

    System.out.printf(
        "1,000 SRV targets: %d ms with the additional section (%d A queries for the targets that"
            + " did not fit in the 64 KiB TCP answer), %d ms without (%d A queries): %.1fx%n",
        with / 1_000_000, aWith, without / 1_000_000, aWithout, (double) without / with);
    assertThat(aWithout).isEqualTo(1000);
    assertThat(aWith).isLessThan(1000);
  }
}
