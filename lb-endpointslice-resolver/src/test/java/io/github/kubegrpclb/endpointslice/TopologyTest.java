package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.notReady;
import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.PrivateResolverChannels;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where the client and the pods are: dual-stack Services (item 7 of issue 10), node-local routing
 * with {@code PreferSameNode} hints (item 10), and what the client's pod says about itself: its
 * namespace, zone and node (item 9). Mock API server in CRUD mode, real loopback pods, fail-fast
 * RPCs.
 */
class TopologyTest {
  private static final CallOptions FAIL_FAST = CallOptions.DEFAULT;

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private MockKubernetesApi api;
  private LoopbackPods pods;

  @BeforeEach
  void start() {
    ResolverFixtures.checkNoWatchLeft(cleanup);
    api = cleanup.add(new MockKubernetesApi());
    pods = cleanup.add(LoopbackPods.start(4));
  }

  private LoopbackPod pod(int i) {
    return pods.get(i);
  }

  private Map<String, Integer> grpcPort() {
    return Map.of("grpc", pods.port());
  }

  private ManagedChannel channel(String target, EndpointSliceOptions.Builder options) {
    return channel(Grpc.newChannelBuilder(target, InsecureChannelCredentials.create()), options);
  }

  private ManagedChannel channel(
      ManagedChannelBuilder<?> builder, EndpointSliceOptions.Builder options) {
    return cleanup.channel(
        builder.setNameResolverArg(EndpointSliceOptions.KEY, options.build()).build());
  }

  // ---- item 7: dual-stack -------------------------------------------------------------------

  /** A second listener of pod-0 on the IPv6 loopback, as a dual-stack pod listens on both. */
  private Server ipv6ListenerOfPod0() throws IOException {
    Server server =
        NettyServerBuilder.forAddress(new InetSocketAddress("::1", 0))
            .addService(PodService.answeringAs("pod-0"))
            .build()
            .start();
    cleanup.add(() -> server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    return server;
  }

  @Test
  void dualStack_podInIpv4AndIpv6Slices_oneEndpointPerPod_loadNotSplit() throws IOException {
    Server ipv6 = ipv6ListenerOfPod0();
    api.apply(slice("my-svc-v4", grpcPort(), ready(pod(0)), ready(pod(1))));
    api.apply(slice("my-svc-v6", Map.of("grpc", ipv6.getPort()), ready(pod(0)).at("::1")));
    // Slow start off: pod-0 connecting a moment after pod-1 on a loaded machine would ramp it,
    // and this test is about the addresses (537/1463 once, with slow start on).
    ManagedChannel channel =
        channel(
            "kubernetes:///my-svc.my-ns:grpc",
            EndpointSliceOptions.builder()
                .client(api.client())
                .policy("kube_round_robin", Map.of("slowStart", Map.of("enabled", false))));
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0", "pod-1"));

    RpcLoad.Result result = RpcLoad.run(channel, 2000, 2, FAIL_FAST);

    assertThat(result.failures()).isZero();
    assertThat(result.perPod()).containsOnlyKeys("pod-0", "pod-1");
    assertThat(result.maxMinRatio(List.of("pod-0", "pod-1")))
        .as("pod-0 has two addresses but is one endpoint: %s", result)
        .isLessThan(1.1);
  }

  // ---- item 10: node-local routing ----------------------------------------------------------

  /** pod-0 on the client's node, pod-1 elsewhere in its zone, pod-2 and pod-3 in another zone. */
  private void applyPreferSameNodeSlice(boolean pod0Ready, boolean pod1Ready) {
    api.apply(
        slice(
            "my-svc-a",
            grpcPort(),
            (pod0Ready ? ready(pod(0)) : notReady(pod(0)))
                .inZone("zone-a", "zone-a")
                .onNode("node-a", "node-a"),
            (pod1Ready ? ready(pod(1)) : notReady(pod(1)))
                .inZone("zone-a", "zone-a")
                .onNode("node-b", "node-b"),
            ready(pod(2)).inZone("zone-b", "zone-b").onNode("node-c", "node-c"),
            ready(pod(3)).inZone("zone-b", "zone-b").onNode("node-d", "node-d")));
  }

  @Test
  void nodeHints_localNodeFirst_thenZone_thenAll_noFailedRpcs() {
    applyPreferSameNodeSlice(true, true);
    ManagedChannel channel =
        channel(
            "kubernetes:///my-svc.my-ns:grpc",
            EndpointSliceOptions.builder()
                .client(api.client())
                .clientNode("node-a")
                .clientZone("zone-a"));
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0"));

    assertThat(RpcLoad.run(channel, 300, 2, FAIL_FAST).perPod()).containsOnlyKeys("pod-0");

    try (RpcLoad load = RpcLoad.start(channel, 2, FAIL_FAST)) {
      applyPreferSameNodeSlice(false, true); // the local pod is no longer ready: its zone
      load.awaitNoTrafficTo(pod(0), 300, Duration.ofSeconds(10));
      applyPreferSameNodeSlice(false, false); // nothing left in the zone: every pod
      load.awaitNoTrafficTo(pod(1), 300, Duration.ofSeconds(10));
      assertThat(load.snapshot().failures()).as("%s", load.snapshot()).isZero();
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(RpcLoad.run(channel, 300, 2, FAIL_FAST).perPod())
                    .containsOnlyKeys("pod-2", "pod-3"));
  }

  @Test
  void nodeAndZone_fromTheDownwardApiEnvironment() {
    applyPreferSameNodeSlice(true, true);
    Map<String, String> env =
        Map.of(EndpointSliceOptions.NODE_ENV, "node-a", EndpointSliceOptions.ZONE_ENV, "zone-a");
    PodEnvironment pod = PodEnvironment.read(env::get, Path.of("/nonexistent"));
    ManagedChannel channel =
        channel(
            PrivateResolverChannels.builder(
                "kubernetes:///my-svc.my-ns:grpc",
                InsecureChannelCredentials.create(),
                new EndpointSliceNameResolverProvider(pod)),
            EndpointSliceOptions.builder().client(api.client()));
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0"));

    assertThat(RpcLoad.run(channel, 300, 2, FAIL_FAST).perPod()).containsOnlyKeys("pod-0");
  }

  // ---- item 9: namespace, environment read once ---------------------------------------------

  @Test
  void targetWithoutNamespace_callersClientNamespaceWinsOverTheServiceAccountFile(@TempDir Path dir)
      throws IOException {
    api.apply(slice("my-svc-a", grpcPort(), ready(pod(0)), ready(pod(1))));
    Path namespaceFile = Files.writeString(dir.resolve("namespace"), "other-ns\n");
    PodEnvironment pod = PodEnvironment.read(name -> null, namespaceFile);
    assertThat(pod.namespace).isEqualTo("other-ns");
    ManagedChannel channel =
        channel(
            PrivateResolverChannels.builder(
                "kubernetes:///my-svc:grpc",
                InsecureChannelCredentials.create(),
                new EndpointSliceNameResolverProvider(pod)),
            EndpointSliceOptions.builder()
                .client(api.clientInNamespace(MockKubernetesApi.NAMESPACE)));
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0", "pod-1"));

    RpcLoad.Result result = RpcLoad.run(channel, 100, 1, CallOptions.DEFAULT);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).containsOnlyKeys("pod-0", "pod-1");
  }

  @Test
  void environmentReadOncePerProvider_notPerResolver() {
    AtomicInteger reads = new AtomicInteger();
    PodEnvironment pod =
        PodEnvironment.read(
            name -> {
              reads.incrementAndGet();
              return null;
            },
            Path.of("/nonexistent"));
    EndpointSliceNameResolverProvider provider = new EndpointSliceNameResolverProvider(pod);
    int readsAtStart = reads.get();
    for (int i = 0; i < 50; i++) {
      ManagedChannel channel =
          PrivateResolverChannels.builder(
                  "kubernetes:///my-svc.my-ns:grpc", InsecureChannelCredentials.create(), provider)
              .setNameResolverArg(
                  EndpointSliceOptions.KEY,
                  EndpointSliceOptions.builder().client(api.client()).build())
              .build();
      channel.shutdownNow();
    }

    assertThat(readsAtStart).isEqualTo(6); // zone, node, client Service, pod name, HOSTNAME, IP
    assertThat(reads.get()).isEqualTo(readsAtStart);
  }
}
