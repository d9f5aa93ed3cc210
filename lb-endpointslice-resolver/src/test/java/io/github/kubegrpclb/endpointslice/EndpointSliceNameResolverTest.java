package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.notReady;
import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.terminating;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The resolver against fabric8's mock API server in CRUD mode, with real loopback pods. */
class EndpointSliceNameResolverTest {
  private static final CallOptions FAIL_FAST = CallOptions.DEFAULT;

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private MockKubernetesApi api;
  private LoopbackPods pods;
  private Map<String, Integer> grpcPort;

  @BeforeEach
  void start() {
    ResolverFixtures.checkNoWatchLeft(cleanup);
    api = new MockKubernetesApi();
    cleanup.add(api);
    pods = LoopbackPods.start(4);
    cleanup.add(pods);
    grpcPort = Map.of("grpc", pods.port(), "metrics", 9090);
  }

  private ManagedChannel channel(String target) {
    return channel(target, EndpointSliceOptions.builder());
  }

  private ManagedChannel channel(String target, EndpointSliceOptions.Builder options) {
    return channel(
        Grpc.newChannelBuilder(target, InsecureChannelCredentials.create())
            .setNameResolverArg(EndpointSliceOptions.KEY, options.client(api.client()).build()));
  }

  private ManagedChannel channel(ManagedChannelBuilder<?> builder) {
    ManagedChannel channel = builder.build();
    cleanup.channel(channel);
    return channel;
  }

  private LoopbackPod pod(int i) {
    return pods.get(i);
  }

  @Test
  void sliceCreated_rpcsFlowToEveryReadyPod() {
    api.apply(slice("my-svc-a", grpcPort, ready(pod(0)), ready(pod(1)), notReady(pod(2))));
    ManagedChannel channel = channel("kubernetes:///my-svc.my-ns:grpc");
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0", "pod-1"));

    RpcLoad.Result result = RpcLoad.run(channel, 1000, 2, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).as("%s", result).containsOnlyKeys("pod-0", "pod-1");
    assertThat(result.maxMinRatio(List.of("pod-0", "pod-1"))).isLessThan(1.05);
  }

  @Test
  void targetForms_namespaceAsAuthorityAndNumericPort() {
    api.apply(slice("my-svc-a", grpcPort, ready(pod(0)), ready(pod(1))));

    ManagedChannel authority = channel("kubernetes://my-ns/my-svc:grpc");
    ManagedChannel number = channel("kubernetes:///my-svc.my-ns:" + pods.port());
    ChannelReadiness.awaitEveryPod(authority, List.of("pod-0", "pod-1"));
    ChannelReadiness.awaitEveryPod(number, List.of("pod-0", "pod-1"));

    RpcLoad.Result byAuthority = RpcLoad.run(authority, 100, 1, FAIL_FAST);
    RpcLoad.Result byNumber = RpcLoad.run(number, 100, 1, FAIL_FAST);

    assertThat(byAuthority.failures()).as("%s", byAuthority).isZero();
    assertThat(byNumber.failures()).as("%s", byNumber).isZero();
    assertThat(byAuthority.perPod()).containsOnlyKeys("pod-0", "pod-1");
    assertThat(byNumber.perPod()).containsOnlyKeys("pod-0", "pod-1");
  }

  @Test
  void endpointAdded_servesRpcsWithinMilliseconds() {
    api.apply(slice("my-svc-a", grpcPort, ready(pod(0)), ready(pod(1))));
    ManagedChannel channel = channel("kubernetes:///my-svc.my-ns:grpc");
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0", "pod-1"));

    try (RpcLoad load = RpcLoad.start(channel, 2, FAIL_FAST)) {
      long start = System.nanoTime();
      api.apply(slice("my-svc-a", grpcPort, ready(pod(0)), ready(pod(1)), ready(pod(2))));
      await()
          .atMost(Duration.ofSeconds(2))
          .pollInterval(Duration.ofMillis(1))
          .until(() -> load.snapshot().served("pod-2") > 0);
      System.out.printf(
          "EndpointSlice update -> first RPC on the new pod: %.1f ms%n",
          (System.nanoTime() - start) / 1e6);
      assertThat(load.snapshot().failures()).isZero();
    }
  }

  @Test
  void endpointTerminating_getsNoNewRpcsWhileAnotherIsReady_allTerminatingStillServed() {
    api.apply(slice("my-svc-a", grpcPort, ready(pod(0)), ready(pod(1))));
    ManagedChannel channel = channel("kubernetes:///my-svc.my-ns:grpc");
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0", "pod-1"));

    try (RpcLoad load = RpcLoad.start(channel, 2, FAIL_FAST)) {
      api.apply(slice("my-svc-a", grpcPort, ready(pod(0)), terminating(pod(1))));
      load.awaitNoTrafficTo(pod(1), 300, Duration.ofSeconds(5));

      long before = pod(1).served(); // no traffic since it turned terminating
      api.apply(slice("my-svc-a", grpcPort, terminating(pod(0)), terminating(pod(1))));
      await().atMost(Duration.ofSeconds(5)).until(() -> pod(1).served() > before + 50);
      assertThat(load.snapshot().failures()).isZero();
    }
  }

  @Test
  void serviceSplitAcrossTwoSlices_usesTheUnionWithoutDuplicates() {
    api.apply(slice("my-svc-a", grpcPort, ready(pod(0)), ready(pod(1))));
    api.apply(slice("my-svc-b", grpcPort, ready(pod(1)), ready(pod(2)), ready(pod(3))));
    ManagedChannel channel = channel("kubernetes:///my-svc.my-ns:grpc");
    ChannelReadiness.awaitEveryPod(channel, pods);

    RpcLoad.Result result = RpcLoad.run(channel, 2000, 2, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).containsOnlyKeys("pod-0", "pod-1", "pod-2", "pod-3");
    assertThat(result.maxMinRatio(List.of("pod-0", "pod-1", "pod-2", "pod-3")))
        .as("pod-1 sits in both slices but must count once: %s", result)
        .isLessThan(1.05);

    api.delete("my-svc-b");
    try (RpcLoad load = RpcLoad.start(channel, 2, FAIL_FAST)) {
      load.awaitNoTrafficTo(pod(3), 300, Duration.ofSeconds(5));
      assertThat(load.snapshot().failures()).as("%s", load.snapshot()).isZero();
    }
  }

  @Test
  void unknownPortName_failsWithTheNamesThatExist() {
    api.apply(slice("my-svc-a", grpcPort, ready(pod(0))));
    ManagedChannel channel = channel("kubernetes:///my-svc.my-ns:grcp");

    RpcLoad.Result result = RpcLoad.run(channel, 1, 1, FAIL_FAST);

    Status status = result.failureSamples().get(0);
    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(status.getDescription()).contains("'grcp'", "my-ns/my-svc", "[grpc, metrics]");
  }

  @Test
  void noPolicyInTarget_kubeRoundRobin_policyParameterWins_channelDefersToDefaultConfig() {
    api.apply(slice("my-svc-a", grpcPort, ready(pod(0)), ready(pod(1)), ready(pod(2))));

    ManagedChannel bareChannel = channel("kubernetes:///my-svc.my-ns:grpc");
    ManagedChannel pickFirstChannel = channel("kubernetes:///my-svc.my-ns:grpc?policy=pick_first");
    ManagedChannel deferredChannel =
        channel(
            Grpc.newChannelBuilder(
                    "kubernetes:///my-svc.my-ns:grpc?policy=channel",
                    InsecureChannelCredentials.create())
                .setNameResolverArg(
                    EndpointSliceOptions.KEY,
                    EndpointSliceOptions.builder().client(api.client()).build())
                .defaultServiceConfig(ServiceConfigs.policy("pick_first")));
    ChannelReadiness.awaitEveryPod(bareChannel, List.of("pod-0", "pod-1", "pod-2"));
    ChannelReadiness.awaitReady(pickFirstChannel);
    ChannelReadiness.awaitReady(deferredChannel);

    RpcLoad.Result bare = RpcLoad.run(bareChannel, 300, 2, FAIL_FAST);
    RpcLoad.Result pickFirst = RpcLoad.run(pickFirstChannel, 300, 2, FAIL_FAST);
    RpcLoad.Result deferred = RpcLoad.run(deferredChannel, 300, 2, FAIL_FAST);

    for (RpcLoad.Result result : List.of(bare, pickFirst, deferred)) {
      assertThat(result.failures()).as("%s", result).isZero();
    }
    assertThat(bare.perPod()).hasSize(3);
    assertThat(pickFirst.perPod()).hasSize(1);
    assertThat(deferred.perPod()).hasSize(1);
  }

  @Test
  void zoneHints_clientZoneKnown_sameZonePodsPreferred() {
    api.apply(
        slice(
            "my-svc-a",
            grpcPort,
            ready(pod(0)).inZone("zone-a", "zone-a"),
            ready(pod(1)).inZone("zone-b", "zone-b"),
            ready(pod(2)).inZone("zone-a", "zone-a")));
    ManagedChannel channel =
        channel(
            "kubernetes:///my-svc.my-ns:grpc", EndpointSliceOptions.builder().clientZone("zone-a"));
    // Until the local pods' connections are up, the balancer uses what is connected (a zone is
    // a preference, not a reason to hold RPCs): measure once they are.
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0", "pod-2"));

    RpcLoad.Result result = RpcLoad.run(channel, 600, 2, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).containsOnlyKeys("pod-0", "pod-2");
  }

  /**
   * The last channel's release no longer stops the watch at once: it is kept for the channels'
   * {@code idleWatchGrace} (so that a channel leaving idle finds it), then stopped with its
   * threads. This test sets the shortest grace, 1 s, and checks that nothing is left after it;
   * {@link ServiceWatchesGraceTest} checks the grace itself on a fake clock.
   */
  @Test
  void channelsToOneService_shareOneWatch_stoppedOneGraceAfterTheLastChannel() throws Exception {
    api.apply(slice("my-svc-a", grpcPort, ready(pod(0))));
    int threadsBefore = Thread.activeCount();
    EndpointSliceOptions.Builder shortGrace =
        EndpointSliceOptions.builder().idleWatchGrace(Duration.ofSeconds(1));
    ManagedChannel first = channel("kubernetes:///my-svc.my-ns:grpc", shortGrace);
    ManagedChannel second = channel("kubernetes:///my-svc.my-ns:grpc?policy=peak_ewma", shortGrace);
    ChannelReadiness.awaitEveryPod(first, List.of("pod-0"));
    ChannelReadiness.awaitEveryPod(second, List.of("pod-0"));

    assertThat(ServiceWatches.SHARED.activeWatches()).isEqualTo(1);

    first.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    assertThat(ServiceWatches.SHARED.activeWatches()).isEqualTo(1);
    second.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> !ServiceWatches.SHARED.watching(api.client(), "my-ns", "my-svc"));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> Thread.activeCount() <= threadsBefore + 2); // gRPC's shared timers may linger
  }

  @Test
  void channelIdle_watchReleased_thenReattachedOnTheNextRpc() {
    api.apply(slice("my-svc-a", grpcPort, ready(pod(0)), ready(pod(1))));
    ManagedChannel channel =
        channel(
            Grpc.newChannelBuilder(
                    "kubernetes:///my-svc.my-ns:grpc", InsecureChannelCredentials.create())
                .idleTimeout(1, TimeUnit.SECONDS) // grpc-java's minimum
                .setNameResolverArg(
                    EndpointSliceOptions.KEY,
                    EndpointSliceOptions.builder().client(api.client()).build()));
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0", "pod-1"));
    assertThat(ServiceWatches.SHARED.activeWatches()).isEqualTo(1);

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> channel.getState(false) == ConnectivityState.IDLE);
    assertThat(ServiceWatches.SHARED.activeWatches()).isZero();

    // Idle is no failure: the next fail-fast RPC waits for the resolver and a connection.
    RpcLoad.Result next = RpcLoad.run(channel, 1, 1, FAIL_FAST);
    assertThat(next.failures()).as("%s", next).isZero();
    assertThat(ServiceWatches.SHARED.activeWatches()).isEqualTo(1);
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0", "pod-1"));
  }

  @Test
  void apiServerRestart_endpointsKept_thenWatchResumes() {
    api.apply(slice("my-svc-a", grpcPort, ready(pod(0)), ready(pod(1))));
    ManagedChannel channel = channel("kubernetes:///my-svc.my-ns:grpc");
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0", "pod-1"));

    api.stop();
    RpcLoad.Result whileDown = RpcLoad.run(channel, 500, 2, FAIL_FAST);
    assertThat(whileDown.failures()).isZero();
    assertThat(whileDown.perPod()).containsOnlyKeys("pod-0", "pod-1");

    api.start();
    api.apply(slice("my-svc-a", grpcPort, ready(pod(0)), ready(pod(1)), ready(pod(3))));
    try (RpcLoad load = RpcLoad.start(channel, 2, FAIL_FAST)) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.snapshot().served("pod-3") > 0);
      assertThat(load.snapshot().failures()).isZero();
    }
  }
}
