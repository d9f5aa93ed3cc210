package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.MockKubernetesApi.Pod;
import io.github.kubegrpclb.testing.PrivateResolverChannels;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * End to end: {@code kube_round_robin} with {@code "subsetting": {"subsetSize": 2}} over 6 loopback
 * pods, one channel per client pod, each client's index from its position in its own Service (mock
 * API server in CRUD mode). Fail-fast RPCs.
 */
class SubsettingByClientIndexTest {
  private static final CallOptions FAIL_FAST = CallOptions.DEFAULT;
  private static final String CLIENT_SERVICE = "my-client";

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private MockKubernetesApi api;
  private LoopbackPods pods;

  @BeforeEach
  void start() {
    cleanup.add(
        () ->
            await()
                .atMost(Duration.ofSeconds(10))
                .untilAsserted(() -> assertThat(ServiceWatches.SHARED.activeWatches()).isZero()));
    api = cleanup.add(new MockKubernetesApi());
    pods = cleanup.add(LoopbackPods.start(6));
    Pod[] servers = new Pod[6];
    for (int i = 0; i < servers.length; i++) {
      servers[i] = ready(pods.get(i));
    }
    api.apply(slice("my-svc-a", Map.of("grpc", pods.port()), servers));
  }

  private void applyClientPods(String... names) {
    Pod[] clients = new Pod[names.length];
    for (int i = 0; i < names.length; i++) {
      clients[i] = ready(names[i], "10.0.0." + (i + 1));
    }
    api.apply(slice(CLIENT_SERVICE, "my-client-a", Map.of("grpc", 8080), clients));
  }

  /** The channel of client pod {@code podName}: its environment names its pod and Service. */
  private ManagedChannel clientChannel(String podName) {
    PodEnvironment pod =
        PodEnvironment.read(
            Map.of(
                    EndpointSliceOptions.POD_NAME_ENV,
                    podName,
                    EndpointSliceOptions.CLIENT_SERVICE_ENV,
                    CLIENT_SERVICE)
                ::get,
            Path.of("/nonexistent"));
    return cleanup.channel(
        PrivateResolverChannels.builder(
                "kubernetes:///my-svc.my-ns:grpc",
                InsecureChannelCredentials.create(),
                new EndpointSliceNameResolverProvider(pod))
            .setNameResolverArg(
                EndpointSliceOptions.KEY,
                EndpointSliceOptions.builder()
                    .client(api.clientInNamespace(MockKubernetesApi.NAMESPACE))
                    .policy("kube_round_robin", Map.of("subsetting", Map.of("subsetSize", 2.0)))
                    .build())
            .build());
  }

  /** The pods {@code channel}'s fail-fast RPCs reach, once they are 2 pods and none fails. */
  private static Set<String> subsetOf(ManagedChannel channel, Set<String> unlike) {
    AtomicReference<Set<String>> subset = new AtomicReference<>();
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              RpcLoad.Result result = RpcLoad.run(channel, 100, 2, FAIL_FAST);
              assertThat(result.failures()).as("%s", result).isZero();
              assertThat(result.perPod()).hasSize(2);
              assertThat(result.perPod().keySet()).isNotEqualTo(unlike);
              subset.set(Set.copyOf(result.perPod().keySet()));
            });
    return subset.get();
  }

  @Test
  void threeClients_indexes012_disjointSubsetsCoveringEveryPod_thenShiftedOnePodWhenAClientJoins() {
    applyClientPods("client-a", "client-b", "client-c");
    ManagedChannel a = clientChannel("client-a");
    ManagedChannel b = clientChannel("client-b");
    ManagedChannel c = clientChannel("client-c");

    Set<String> subsetA = subsetOf(a, Set.of());
    Set<String> subsetB = subsetOf(b, Set.of());
    Set<String> subsetC = subsetOf(c, Set.of());

    // Clients 0, 1, 2 of 3 (deterministic aperture): 3 disjoint arcs of 2 of the 6 pods.
    Set<String> union = new HashSet<>(subsetA);
    union.addAll(subsetB);
    union.addAll(subsetC);
    assertThat(union)
        .as("a=%s b=%s c=%s", subsetA, subsetB, subsetC)
        .containsExactlyInAnyOrder("pod-0", "pod-1", "pod-2", "pod-3", "pod-4", "pod-5");

    // client-a0 sorts between client-a and client-b: b becomes client 2 of 4, its arc moves from
    // ring positions [2, 4) to [3, 5): it keeps one pod and takes one of c's, not a new pair.
    applyClientPods("client-a", "client-a0", "client-b", "client-c");

    Set<String> movedB = subsetOf(b, subsetB);
    assertThat(movedB).as("b was %s, c was %s", subsetB, subsetC).hasSize(2);
    assertThat(movedB).containsAnyElementsOf(subsetB).containsAnyElementsOf(subsetC);
    assertThat(subsetOf(a, Set.of())).as("client 0 stays client 0").isEqualTo(subsetA);
  }
}
