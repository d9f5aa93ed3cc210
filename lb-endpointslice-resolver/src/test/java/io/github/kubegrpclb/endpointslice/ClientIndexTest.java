package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.notReady;
import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.github.kubegrpclb.core.EndpointAttributes;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.MockKubernetesApi.Pod;
import io.grpc.NameResolver.ResolutionResult;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The client's index for deterministic subsetting, from its position among the pods of its own
 * Service: the resolver watches that Service's EndpointSlices (mock API server in CRUD mode) and
 * publishes {@link EndpointAttributes#CLIENT_INDEX} and {@link EndpointAttributes#CLIENT_COUNT}
 * with the endpoints.
 */
class ClientIndexTest {
  private static final String TARGET = "kubernetes:///my-svc.my-ns:grpc";
  private static final String CLIENT_SERVICE = "my-client";
  private static final Map<String, Integer> PORTS = Map.of("grpc", 8080);

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private MockKubernetesApi api;
  private KubernetesClient client; // its namespace, the client pod's, is the Services' one

  @BeforeEach
  void start() {
    cleanup.add(
        () ->
            await()
                .atMost(Duration.ofSeconds(10))
                .untilAsserted(() -> assertThat(ServiceWatches.SHARED.activeWatches()).isZero()));
    api = cleanup.add(new MockKubernetesApi());
    client = api.clientInNamespace(MockKubernetesApi.NAMESPACE);
    api.apply(
        slice("my-svc-a", PORTS, ready("server-0", "10.1.0.1"), ready("server-1", "10.1.0.2")));
  }

  private void applyClientPods(Pod... pods) {
    api.apply(slice(CLIENT_SERVICE, "my-client-a", PORTS, pods));
  }

  private static PodEnvironment env(String... nameValuePairs) {
    Map<String, String> env = new HashMap<>();
    for (int i = 0; i < nameValuePairs.length; i += 2) {
      env.put(nameValuePairs[i], nameValuePairs[i + 1]);
    }
    return PodEnvironment.read(env::get, Path.of("/nonexistent"));
  }

  /** A resolver for this pod, its client Service named by the option. */
  private ResolverHarness resolver(PodEnvironment pod) {
    return resolver(
        pod, EndpointSliceOptions.builder().client(client).clientService(CLIENT_SERVICE));
  }

  private ResolverHarness resolver(PodEnvironment pod, EndpointSliceOptions.Builder options) {
    ResolverHarness harness =
        new ResolverHarness(TARGET, new EndpointSliceNameResolverProvider(pod), options.build());
    cleanup.add(harness);
    return harness.start();
  }

  private static Integer index(ResolutionResult result) {
    return result.getAttributes().get(EndpointAttributes.CLIENT_INDEX);
  }

  private static Integer count(ResolutionResult result) {
    return result.getAttributes().get(EndpointAttributes.CLIENT_COUNT);
  }

  /** "index of count", or "none". */
  private static String position(ResolutionResult result) {
    return index(result) == null && count(result) == null
        ? "none"
        : index(result) + " of " + count(result);
  }

  private static void awaitPosition(ResolverHarness harness, String expected) {
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> !harness.results.isEmpty() && position(last(harness)).equals(expected));
  }

  private static ResolutionResult last(ResolverHarness harness) {
    return harness.results.get(harness.results.size() - 1);
  }

  private static void awaitIndex(ResolverHarness harness, Integer expected) {
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> !harness.results.isEmpty() && Objects.equals(index(last(harness)), expected));
  }

  @Test
  void clientServiceWithThreePods_thisIsPodB_clientIndex1() {
    applyClientPods(
        ready("pod-c", "10.0.0.3"), ready("pod-a", "10.0.0.1"), notReady("pod-b", "10.0.0.2"));

    ResolverHarness harness = resolver(env(EndpointSliceOptions.POD_NAME_ENV, "pod-b"));

    await().atMost(Duration.ofSeconds(10)).until(() -> harness.endpointsInLastResult() == 2);
    assertThat(harness.results).hasSize(1);
    assertThat(position(harness.results.get(0)))
        .as("the first result already carries the index: no subset dealt, then re-dealt")
        .isEqualTo("1 of 3");
    assertThat(ServiceWatches.SHARED.activeWatches()).isEqualTo(2);
  }

  @Test
  void targetWatchedAlready_firstResultStillWaitsForTheClientServiceList() {
    applyClientPods(ready("pod-a", "10.0.0.1"), ready("pod-b", "10.0.0.2"));
    ResolverHarness other = resolver(env(), EndpointSliceOptions.builder().client(client));
    await().atMost(Duration.ofSeconds(10)).until(() -> other.endpointsInLastResult() == 2);

    ResolverHarness harness = resolver(env(EndpointSliceOptions.POD_NAME_ENV, "pod-b"));

    await().atMost(Duration.ofSeconds(10)).until(() -> harness.endpointsInLastResult() == 2);
    assertThat(index(harness.results.get(0))).isEqualTo(1);
    assertThat(index(last(other))).as("a channel without a client Service").isNull();
  }

  @Test
  void hostnameAndEnvironmentVariable_withoutTheOption() {
    applyClientPods(ready("pod-a", "10.0.0.1"), ready("pod-b", "10.0.0.2"));

    ResolverHarness harness =
        resolver(
            env("HOSTNAME", "pod-b", EndpointSliceOptions.CLIENT_SERVICE_ENV, CLIENT_SERVICE),
            EndpointSliceOptions.builder().client(client));

    awaitIndex(harness, 1);
  }

  @Test
  void podFoundByIp_whenItsNameIsNotListed() {
    applyClientPods(
        ready("pod-a", "10.0.0.1"), ready("pod-b", "10.0.0.2"), ready("pod-c", "10.0.0.3"));

    ResolverHarness harness =
        resolver(env("HOSTNAME", "custom-hostname", EndpointSliceOptions.POD_IP_ENV, "10.0.0.3"));

    awaitIndex(harness, 2);
  }

  @Test
  void clientPodsAddedAndRemoved_indexAndCountRepublished_onlyWhenEitherChanges() {
    applyClientPods(
        ready("pod-a", "10.0.0.1"), ready("pod-b", "10.0.0.2"), ready("pod-c", "10.0.0.3"));
    ResolverHarness harness = resolver(env(EndpointSliceOptions.POD_NAME_ENV, "pod-b"));
    awaitPosition(harness, "1 of 3");
    int before = harness.results.size();

    // A readiness change moves neither: nothing to publish.
    applyClientPods(
        notReady("pod-a", "10.0.0.1"), ready("pod-b", "10.0.0.2"), ready("pod-c", "10.0.0.3"));
    // A pod sorted after this one: same index, count 4, published.
    applyClientPods(
        notReady("pod-a", "10.0.0.1"),
        ready("pod-b", "10.0.0.2"),
        ready("pod-c", "10.0.0.3"),
        ready("pod-d", "10.0.0.4"));
    awaitPosition(harness, "1 of 4");
    // A pod sorted before this one: index 2, published.
    applyClientPods(
        ready("pod-a", "10.0.0.1"),
        ready("pod-a2", "10.0.0.5"),
        ready("pod-b", "10.0.0.2"),
        ready("pod-c", "10.0.0.3"),
        ready("pod-d", "10.0.0.4"));
    awaitPosition(harness, "2 of 5");
    // pod-a and pod-d gone: index 1 of 3 again.
    applyClientPods(
        ready("pod-a2", "10.0.0.5"), ready("pod-b", "10.0.0.2"), ready("pod-c", "10.0.0.3"));
    awaitPosition(harness, "1 of 3");

    assertThat(harness.results.subList(before, harness.results.size()))
        .extracting(ClientIndexTest::position)
        .containsExactly("1 of 4", "2 of 5", "1 of 3");
    assertThat(harness.endpointsInLastResult()).isEqualTo(2);
  }

  @Test
  void clientNotInItsService_noIndex_loggedOnce_thenIndexOnceListed() {
    String notListed = "INFO: this pod (pod pod-b) is not among the pods";
    applyClientPods(ready("pod-a", "10.0.0.1"), ready("pod-c", "10.0.0.3"));
    ResolverHarness harness = resolver(env(EndpointSliceOptions.POD_NAME_ENV, "pod-b"));
    await().atMost(Duration.ofSeconds(10)).until(() -> harness.endpointsInLastResult() == 2);
    assertThat(index(last(harness))).isNull();

    applyClientPods(
        ready("pod-a", "10.0.0.1"), ready("pod-c", "10.0.0.3"), ready("pod-d", "10.0.0.4"));
    applyClientPods(
        ready("pod-a", "10.0.0.1"), notReady("pod-b", "10.0.0.2"), ready("pod-c", "10.0.0.3"));

    awaitIndex(harness, 1);
    assertThat(harness.log.count(notListed)).as("%s", harness.log.messages()).isEqualTo(1);

    applyClientPods(ready("pod-a", "10.0.0.1"), ready("pod-c", "10.0.0.3"));
    awaitIndex(harness, null);
    assertThat(position(last(harness))).as("no count without an index").isEqualTo("none");
    assertThat(harness.log.count(notListed)).as("a new episode").isEqualTo(2);
  }

  @Test
  void clientServiceWithoutSlices_endpointsPublishedAtOnce_withoutIndex() {
    ResolverHarness harness = resolver(env(EndpointSliceOptions.POD_NAME_ENV, "pod-b"));

    await()
        .atMost(EndpointSliceNameResolver.FIRST_ANSWER_TIMEOUT.dividedBy(2))
        .until(() -> harness.endpointsInLastResult() == 2);
    assertThat(index(last(harness))).isNull();
  }

  @Test
  void noClientService_noSecondWatch_noIndex() {
    applyClientPods(ready("pod-a", "10.0.0.1"), ready("pod-b", "10.0.0.2"));

    ResolverHarness harness =
        resolver(
            env(EndpointSliceOptions.POD_NAME_ENV, "pod-b"),
            EndpointSliceOptions.builder().client(client));

    await().atMost(Duration.ofSeconds(10)).until(() -> harness.endpointsInLastResult() == 2);
    assertThat(index(last(harness))).isNull();
    assertThat(ServiceWatches.SHARED.activeWatches()).isEqualTo(1);
  }

  @Test
  void clientServiceWithoutPodNameOrIp_noSecondWatch() {
    applyClientPods(ready("pod-a", "10.0.0.1"), ready("pod-b", "10.0.0.2"));

    ResolverHarness harness = resolver(env());

    await().atMost(Duration.ofSeconds(10)).until(() -> harness.endpointsInLastResult() == 2);
    assertThat(index(last(harness))).isNull();
    assertThat(ServiceWatches.SHARED.activeWatches()).isEqualTo(1);
  }

  @Test
  void badClientServiceName_clearError() {
    assertThatThrownBy(() -> EndpointSliceOptions.builder().clientService("My_Client"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("clientService 'My_Client' is not a Service name")
        .hasMessageContaining("e.g. my-client");
    assertThatThrownBy(
            () ->
                new ResolverHarness(
                    TARGET,
                    new EndpointSliceNameResolverProvider(
                        env(EndpointSliceOptions.CLIENT_SERVICE_ENV, "my-ns/my-client")),
                    EndpointSliceOptions.builder().client(client).build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("env KUBE_GRPC_LB_CLIENT_SERVICE='my-ns/my-client'");
  }

  @Test
  void channelsOfOneJvm_shareTheClientServiceWatch_releasedWithTheLast() {
    applyClientPods(ready("pod-a", "10.0.0.1"), ready("pod-b", "10.0.0.2"));
    PodEnvironment pod = env(EndpointSliceOptions.POD_NAME_ENV, "pod-a");
    ResolverHarness first = resolver(pod);
    ResolverHarness second = resolver(pod);
    awaitIndex(first, 0);
    awaitIndex(second, 0);
    assertThat(ServiceWatches.SHARED.activeWatches()).isEqualTo(2);

    first.close();
    assertThat(ServiceWatches.SHARED.activeWatches()).isEqualTo(2);
    second.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> ServiceWatches.SHARED.activeWatches() == 0);
  }
}
