package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The resolver end to end: real DNS over UDP/TCP, real channels, real loopback pods. */
class HeadlessDnsNameResolverTest {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";
  private static final CallOptions FAIL_FAST = CallOptions.DEFAULT;

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private TestDnsServer dns;

  @BeforeEach
  void startDns() {
    dns = TestDnsServer.start();
    cleanup.add(dns);
  }

  private LoopbackPods pods(int count) {
    LoopbackPods pods = LoopbackPods.start(count);
    cleanup.add(pods);
    return pods;
  }

  private static String[] ips(LoopbackPods pods) {
    return pods.all().stream()
        .map(pod -> pod.address().getAddress().getHostAddress())
        .toArray(String[]::new);
  }

  private ManagedChannel channel(String target) {
    return channel(Grpc.newChannelBuilder(target, InsecureChannelCredentials.create()));
  }

  private ManagedChannel channel(ManagedChannelBuilder<?> builder) {
    ManagedChannel channel = builder.build();
    cleanup.channel(channel);
    return channel;
  }

  private String target(String hostAndPort) {
    return "headless://" + dns.authority() + "/" + hostAndPort;
  }

  @Test
  void bareTarget_balancesPerRpcWithKubeRoundRobin() {
    LoopbackPods pods = pods(3);
    dns.setA(HOST, 30, ips(pods));
    ManagedChannel channel = channel(target(HOST + ":" + pods.port()));
    ChannelReadiness.awaitEveryPod(channel, pods);

    RpcLoad.Result result = RpcLoad.run(channel, 3000, 2, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).as("%s", result).containsOnlyKeys("pod-0", "pod-1", "pod-2");
    assertThat(result.maxMinRatio(List.of("pod-0", "pod-1", "pod-2"))).isLessThan(1.05);
  }

  @Test
  void policyParameter_winsOverTheDefault() {
    LoopbackPods pods = pods(3);
    dns.setA(HOST, 30, ips(pods));
    ManagedChannel channel = channel(target(HOST + ":" + pods.port() + "?policy=pick_first"));

    ChannelReadiness.awaitReady(channel);

    RpcLoad.Result result = RpcLoad.run(channel, 300, 2, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).as("%s", result).hasSize(1);
  }

  @Test
  void policyChannel_channelDefaultServiceConfigApplies() {
    LoopbackPods pods = pods(3);
    dns.setA(HOST, 30, ips(pods));
    ManagedChannel channel =
        channel(
            Grpc.newChannelBuilder(
                    target(HOST + ":" + pods.port() + "?policy=channel"),
                    InsecureChannelCredentials.create())
                .defaultServiceConfig(ServiceConfigs.policy("pick_first")));

    ChannelReadiness.awaitReady(channel);

    RpcLoad.Result result = RpcLoad.run(channel, 300, 2, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).as("%s", result).hasSize(1);
  }

  @Test
  void optionsPolicy_setThroughNameResolverArg_applies() {
    LoopbackPods pods = pods(3);
    dns.setA(HOST, 30, ips(pods));
    ManagedChannel channel =
        channel(
            Grpc.newChannelBuilder(
                    target(HOST + ":" + pods.port()), InsecureChannelCredentials.create())
                .setNameResolverArg(
                    HeadlessDnsOptions.KEY,
                    HeadlessDnsOptions.builder().policy("pick_first").build()));

    ChannelReadiness.awaitReady(channel);

    RpcLoad.Result result = RpcLoad.run(channel, 300, 2, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).as("%s", result).hasSize(1);
  }

  @Test
  void scaleUp_ttl1s_newPodServesWithin3s() {
    LoopbackPods pods = pods(3);
    dns.setA(HOST, 1, ips(pods));
    ManagedChannel channel = channel(target(HOST + ":" + pods.port()));
    ChannelReadiness.awaitEveryPod(channel, pods);

    try (RpcLoad load = RpcLoad.start(channel, 2, FAIL_FAST)) {
      LoopbackPod added = pods.add();
      long start = System.nanoTime();
      dns.setA(HOST, 1, ips(pods));
      await()
          .atMost(Duration.ofSeconds(3))
          .pollInterval(Duration.ofMillis(10))
          .until(() -> load.snapshot().served(added.name()) > 0);
      System.out.printf(
          "scale-up: new pod served after %d ms%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      assertThat(load.snapshot().failures()).isZero();
    }
  }

  @Test
  void scaleDown_removedPodGetsNoRpcAfterItsRecordIsGoneAndItStops() {
    LoopbackPods pods = pods(4);
    dns.setA(HOST, 1, ips(pods));
    ManagedChannel channel = channel(target(HOST + ":" + pods.port()));
    ChannelReadiness.awaitEveryPod(channel, pods);
    LoopbackPod removed = pods.get(3);

    try (RpcLoad load = RpcLoad.start(channel, 2, FAIL_FAST)) {
      dns.setA(HOST, 1, ips(pods)[0], ips(pods)[1], ips(pods)[2]);
      load.awaitNoTrafficTo(removed, 300, Duration.ofSeconds(5));
      removed.stop();
      load.reset();
      await().atMost(Duration.ofSeconds(10)).until(() -> load.snapshot().succeeded() > 2000);
      assertThat(load.snapshot().served(removed.name())).isZero();
      assertThat(load.snapshot().failures()).as("%s", load.snapshot()).isZero();
    }
  }

  @Test
  void crashedPod_triggersImmediateReResolution() {
    LoopbackPods pods = pods(3);
    dns.setA(HOST, 30, ips(pods)); // the TTL alone would wait 30 s
    ManagedChannel channel = channel(target(HOST + ":" + pods.port()));
    ChannelReadiness.awaitEveryPod(channel, pods);
    int queriesBefore = dns.udpQueries();

    pods.get(1).stop();

    await().atMost(Duration.ofSeconds(3)).until(() -> dns.udpQueries() > queriesBefore);
  }

  @Test
  void srvPortName_resolvesThePodPort() {
    LoopbackPods pods = pods(3);
    String[] targets = new String[3];
    for (int i = 0; i < 3; i++) {
      targets[i] = "pod-" + i + "." + HOST;
      dns.setA(targets[i], 30, ips(pods)[i]);
    }
    dns.setSrv("_grpc._tcp." + HOST, 30, pods.port(), targets);
    ManagedChannel channel = channel(target(HOST + ":grpc"));
    ChannelReadiness.awaitEveryPod(channel, pods);

    RpcLoad.Result result = RpcLoad.run(channel, 300, 2, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).as("%s", result).containsOnlyKeys("pod-0", "pod-1", "pod-2");
  }

  @Test
  void shortName_followsTheSearchPath() {
    LoopbackPods pods = pods(2);
    dns.setA(HOST, 30, ips(pods));
    ManagedChannel channel =
        channel(
            Grpc.newChannelBuilder(
                    target("my-svc:" + pods.port()), InsecureChannelCredentials.create())
                .setNameResolverArg(
                    HeadlessDnsOptions.KEY,
                    HeadlessDnsOptions.builder()
                        .searchPath(List.of("my-ns.svc.cluster.local", "svc.cluster.local"))
                        .ndots(5)
                        .build()));
    ChannelReadiness.awaitEveryPod(channel, pods);

    RpcLoad.Result result = RpcLoad.run(channel, 100, 1, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).containsOnlyKeys("pod-0", "pod-1");
  }

  @Test
  void servfail_keepsTheLastGoodEndpoints() {
    LoopbackPods pods = pods(3);
    dns.setA(HOST, 1, ips(pods));
    ManagedChannel channel = channel(target(HOST + ":" + pods.port()));
    ChannelReadiness.awaitEveryPod(channel, pods);
    int queriesBefore = dns.udpQueries();

    dns.setMode(TestDnsServer.Mode.SERVFAIL);
    await().atMost(Duration.ofSeconds(5)).until(() -> dns.udpQueries() >= queriesBefore + 2);

    RpcLoad.Result result = RpcLoad.run(channel, 600, 2, FAIL_FAST);
    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).containsOnlyKeys("pod-0", "pod-1", "pod-2");
  }

  @Test
  void nxdomain_rpcFailsWithUnavailableNamingTheHost() {
    ManagedChannel channel = channel(target("gone.my-ns.svc.cluster.local:50051"));

    RpcLoad.Result result = RpcLoad.run(channel, 1, 1, FAIL_FAST);

    assertThat(result.failureSamples()).hasSize(1);
    Status status = result.failureSamples().get(0);
    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(status.getDescription()).contains("gone.my-ns.svc.cluster.local", "NXDOMAIN");
  }
}
