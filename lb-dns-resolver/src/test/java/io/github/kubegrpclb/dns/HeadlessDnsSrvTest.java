package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.xbill.DNS.Type;

/**
 * SRV targets (port names) under the faults of a real cluster, end to end: a real DNS server over
 * UDP/TCP, real channels, loopback pods, and fail-fast RPCs, which see every transient.
 */
class HeadlessDnsSrvTest {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";
  private static final String SRV = "_grpc._tcp." + HOST;
  private static final CallOptions FAIL_FAST = CallOptions.DEFAULT;

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private TestDnsServer dns;

  @BeforeEach
  void startDns() {
    dns = TestDnsServer.start();
    cleanup.add(dns);
  }

  private LoopbackPods pods(int count) {
    return cleanup.add(LoopbackPods.start(count));
  }

  /** The DNS name of a pod, as the SRV target of a headless Service. */
  private static String dnsName(LoopbackPod pod) {
    return pod.name() + "." + HOST;
  }

  private static String ip(LoopbackPod pod) {
    return pod.address().getAddress().getHostAddress();
  }

  private static String[] dnsNames(List<LoopbackPod> pods) {
    return pods.stream().map(HeadlessDnsSrvTest::dnsName).toArray(String[]::new);
  }

  private ManagedChannel channel() {
    return cleanup.channel(
        Grpc.newChannelBuilder(
                "headless://" + dns.authority() + "/" + HOST + ":grpc",
                InsecureChannelCredentials.create())
            .build());
  }

  @Test
  void portNameLongerThan15Characters_isADnsLabel_resolvesThroughSrv() {
    LoopbackPods pods = pods(2);
    for (LoopbackPod pod : pods.all()) {
      dns.setA(dnsName(pod), 30, ip(pod));
    }
    dns.setSrv("_grpc-internal-api._tcp." + HOST, 30, pods.port(), dnsNames(pods.all()));
    ManagedChannel channel =
        cleanup.channel(
            Grpc.newChannelBuilder(
                    "headless://" + dns.authority() + "/" + HOST + ":grpc-internal-api",
                    InsecureChannelCredentials.create())
                .build());

    RpcLoad.Result result = RpcLoad.run(channel, 200, 2, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).containsOnlyKeys("pod-0", "pod-1");
  }

  @Test
  void srvTargetWithoutARecord_theOtherTwoServeEveryFailFastRpc() {
    LoopbackPods pods = pods(3);
    dns.setA(dnsName(pods.get(0)), 30, ip(pods.get(0)));
    dns.setA(dnsName(pods.get(1)), 30, ip(pods.get(1)));
    pods.get(2).stop(); // deleted: its A record is gone, the (cached) SRV answer still names it
    dns.setSrv(SRV, 30, pods.port(), dnsNames(pods.all()));

    RpcLoad.Result result = RpcLoad.run(channel(), 3000, 2, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).containsOnlyKeys("pod-0", "pod-1");
    assertThat(result.succeeded()).isEqualTo(3000);
  }

  /*
   * A rolling update seen through a caching DNS server (CoreDNS caches SRV and A answers apart, 30
   * s each), scaled down: the SRV answer shows every change 2 s after the A records do. Each step
   * starts a new pod (its A record at once), waits until clients use it, then removes an old pod's
   * A record (it is terminating) while the lagging SRV answer still names it, and drains the old
   * pod once clients stopped sending to it, as a preStop hook would.
   */
  @Test
  void rollingUpdate_srvAnswerLagsARecords_noFailedFailFastRpc() {
    rollingUpdateThroughLaggingSrvAnswers();
  }

  /**
   * As above, with the pods' addresses in the SRV answer's additional section, as stale as the
   * answer (CoreDNS caches them together): a deleted pod stays listed with its old address until
   * the answer expires; its connection is refused and the balancer skips it.
   */
  @Test
  void rollingUpdate_srvAnswerAndItsAdditionalSectionLag_noFailedFailFastRpc() {
    dns.setAdditionalSection(true);
    rollingUpdateThroughLaggingSrvAnswers();
  }

  private void rollingUpdateThroughLaggingSrvAnswers() {
    LoopbackPods pods = pods(3);
    List<LoopbackPod> live = new ArrayList<>(pods.all());
    for (LoopbackPod pod : live) {
      dns.setA(dnsName(pod), 1, ip(pod));
    }
    dns.setSrv(SRV, 1, pods.port(), dnsNames(live));
    dns.setLag(Type.SRV, Duration.ofSeconds(2));
    ManagedChannel channel = channel();
    RpcLoad.Result warmUp = RpcLoad.run(channel, 300, 2, FAIL_FAST);
    assertThat(warmUp.failures()).as("%s", warmUp).isZero();

    try (RpcLoad load = RpcLoad.start(channel, 2, FAIL_FAST)) {
      for (int step = 0; step < 3; step++) {
        LoopbackPod fresh = pods.add();
        dns.setA(dnsName(fresh), 1, ip(fresh));
        live.add(fresh);
        dns.setSrv(SRV, 1, pods.port(), dnsNames(live));
        // Bounded, not timed: the 2 s SRV lag, a 1 s TTL and a slow start ramp from 1 % under
        // 2 callers take a few seconds, many more on a loaded machine (10 s was once too short).
        await("" + fresh + " in rotation")
            .atMost(Duration.ofSeconds(30))
            .pollInterval(Duration.ofMillis(10))
            .until(() -> load.snapshot().served(fresh.name()) > 0);

        LoopbackPod old = pods.get(step);
        dns.setA(dnsName(old), 1); // terminating: out of the A records at once
        live.remove(old);
        dns.setSrv(SRV, 1, pods.port(), dnsNames(live)); // ...out of the SRV answer 2 s later
        load.awaitNoTrafficTo(old, 300, Duration.ofSeconds(10));
        old.drain();
      }
      RpcLoad.Result during = load.snapshot();
      System.out.printf("rolling update through lagging SRV answers: %s%n", during);
      assertThat(during.failures()).as("%s", during).isZero();
      load.reset();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> load.snapshot().perPod().keySet().size() == 3);
      RpcLoad.Result after = load.snapshot();
      assertThat(after.perPod()).containsOnlyKeys("pod-3", "pod-4", "pod-5");
      assertThat(after.failures()).as("%s", after).isZero();
    }
  }

  @Test
  void familyAuto_targetWithOnlyAnAaaaRecord_servedOverIpv6Loopback() throws Exception {
    LoopbackPods pods = pods(1);
    LoopbackPod v6 = pods.addAt(InetAddress.getByName("::1"));
    dns.setA(dnsName(pods.get(0)), 30, ip(pods.get(0)));
    dns.setAaaa(dnsName(v6), 30, "::1");
    dns.setSrv(SRV, 30, pods.port(), dnsNames(pods.all()));

    RpcLoad.Result result = RpcLoad.run(channel(), 600, 2, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).containsOnlyKeys("pod-0", "pod-1");
  }

  @Test
  void ttlZero_withACrashedPod_resolvesAtMostOncePerTtlFloor() {
    LoopbackPods pods = pods(3);
    for (LoopbackPod pod : pods.all()) {
      dns.setA(dnsName(pod), 0, ip(pod));
    }
    dns.setSrv(SRV, 0, pods.port(), dnsNames(pods.all()));
    pods.get(2).stop(); // refused connections: the balancer keeps asking for a refresh
    ManagedChannel channel = channel();
    RpcLoad.run(channel, 300, 2, FAIL_FAST);

    try (RpcLoad load = RpcLoad.start(channel, 2, FAIL_FAST)) {
      int before = dns.queries(Type.SRV);
      // TTL 0 means "ask again every time": clamped to ttlFloor (1 s), so 3 s hold 3 or 4
      // resolutions, however often the crashed pod's reconnects ask for one.
      await()
          .during(Duration.ofSeconds(3))
          .atMost(Duration.ofSeconds(4))
          .until(() -> dns.queries(Type.SRV) - before <= 5);
      int resolutions = dns.queries(Type.SRV) - before;
      System.out.printf("TTL 0: %d SRV queries in 3 s; %s%n", resolutions, load.snapshot());
      assertThat(resolutions).isBetween(2, 5);
      assertThat(load.snapshot().failures()).as("%s", load.snapshot()).isZero();
      assertThat(load.snapshot().perPod()).containsOnlyKeys("pod-0", "pod-1");
    }
  }
}
