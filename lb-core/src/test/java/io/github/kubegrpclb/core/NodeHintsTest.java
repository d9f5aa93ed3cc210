package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.Subchannel;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Node-local routing ({@code trafficDistribution: PreferSameNode}, Kubernetes 1.33): both policies
 * prefer the endpoints hinted for the client's node, fall back to its zone, then to every endpoint,
 * as kube-proxy's {@code topologyModeFromHints} does, and never hold a pick for a preference.
 */
class NodeHintsTest {
  private final FakeHelper helper = new FakeHelper();

  @AfterEach
  void noErrorsInSyncContext() {
    helper.checkNoErrors();
  }

  static Stream<Function<FakeHelper, LoadBalancer>> policies() {
    return Stream.of(
        helper -> KubeRoundRobinPolicy.balancer(helper, new Random(1)::nextInt),
        helper -> PeakEwmaPolicy.balancer(helper, System::nanoTime, new Random(1)::nextInt));
  }

  /** Endpoint {@code i} on {@code node} in {@code zone}, hinted for both (or not for nodes). */
  private static EquivalentAddressGroup endpoint(int i, String node, String zone) {
    return new EquivalentAddressGroup(
        EndpointGroups.endpoint(i).getAddresses(),
        EndpointAttributes.of(
            EndpointCondition.READY, zone, Set.of(zone), node == null ? Set.of() : Set.of(node)));
  }

  private static final List<EquivalentAddressGroup> ENDPOINTS =
      List.of(
          endpoint(0, "node-a", "zone-a"),
          endpoint(1, "node-b", "zone-a"),
          endpoint(2, "node-c", "zone-b"),
          endpoint(3, "node-d", "zone-b"));

  private void accept(LoadBalancer balancer, List<EquivalentAddressGroup> groups) {
    Attributes client =
        Attributes.newBuilder()
            .set(EndpointAttributes.CLIENT_NODE, "node-a")
            .set(EndpointAttributes.CLIENT_ZONE, "zone-a")
            .build();
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder().setAddresses(groups).setAttributes(client).build()));
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));
  }

  private Set<Subchannel> picked(int picks) {
    Set<Subchannel> picked = new HashSet<>();
    for (int i = 0; i < picks; i++) {
      PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
      assertThat(result.getStatus().isOk()).as("pick %s: %s", i, result).isTrue();
      assertThat(result.getSubchannel()).as("pick %s is not held", i).isNotNull();
      picked.add(result.getSubchannel());
    }
    return picked;
  }

  private Subchannel subchannel(int i) {
    return helper.subchannelFor(ENDPOINTS.get(i));
  }

  @ParameterizedTest
  @MethodSource("policies")
  void clientNodeKnown_sameNodeFirst_thenSameZone_thenAll(
      Function<FakeHelper, LoadBalancer> policy) {
    LoadBalancer balancer = policy.apply(helper);
    accept(balancer, ENDPOINTS);

    assertThat(picked(40)).containsOnly(subchannel(0));

    helper.subchannelFor(ENDPOINTS.get(0)).deliver(TRANSIENT_FAILURE);
    assertThat(picked(40)).containsOnly(subchannel(1));

    helper.subchannelFor(ENDPOINTS.get(1)).deliver(TRANSIENT_FAILURE);
    assertThat(picked(40)).containsOnly(subchannel(2), subchannel(3));
    helper.run(balancer::shutdown);
  }

  @ParameterizedTest
  @MethodSource("policies")
  void oneEndpointWithoutNodeHints_nodeHintsIgnored_zoneHintsUsed(
      Function<FakeHelper, LoadBalancer> policy) {
    LoadBalancer balancer = policy.apply(helper);
    List<EquivalentAddressGroup> groups =
        List.of(ENDPOINTS.get(0), ENDPOINTS.get(1), ENDPOINTS.get(2), endpoint(3, null, "zone-b"));
    accept(balancer, groups);

    assertThat(picked(40)).containsOnly(subchannel(0), subchannel(1));
    helper.run(balancer::shutdown);
  }
}
