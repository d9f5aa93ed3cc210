package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.READY;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import io.grpc.NameResolver.ConfigOrError;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The {@code subsetting} option of both policies, through their providers. */
class SubsettingTest {
  private final FakeHelper helper = new FakeHelper();
  private LoadBalancer balancer;

  @AfterEach
  void tearDown() {
    if (balancer != null) {
      helper.run(balancer::shutdown);
    }
    helper.checkNoErrors();
  }

  private static LoadBalancerProvider provider(String policy) {
    return LoadBalancerRegistry.getDefaultRegistry().getProvider(policy);
  }

  private void accept(
      String policy, Map<String, ?> raw, List<EquivalentAddressGroup> groups, Attributes attrs) {
    ConfigOrError parsed = provider(policy).parseLoadBalancingPolicyConfig(raw);
    assertThat(parsed.getError()).isNull();
    if (balancer == null) {
      balancer = provider(policy).newLoadBalancer(helper);
    }
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(groups)
                    .setAttributes(attrs)
                    .setLoadBalancingPolicyConfig(parsed.getConfig())
                    .build()));
  }

  private Set<List<java.net.SocketAddress>> liveAddresses() {
    return helper.liveSubchannels().stream()
        .map(sc -> sc.getAddresses().getAddresses())
        .collect(Collectors.toSet());
  }

  private static Set<List<java.net.SocketAddress>> addresses(List<EquivalentAddressGroup> groups) {
    return groups.stream().map(EquivalentAddressGroup::getAddresses).collect(Collectors.toSet());
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void subsetSize_connectsOnlyToThisClientsDeterministicSubset(String policy) {
    List<EquivalentAddressGroup> all = EndpointGroups.endpoints(0, 100);
    accept(
        policy,
        Map.of("subsetting", Map.of("subsetSize", 10.0, "clientIndex", 7.0)),
        all,
        Attributes.EMPTY);

    assertThat(helper.createdSubchannels()).hasSize(10);
    assertThat(liveAddresses()).isEqualTo(addresses(DeterministicSubset.select(all, 10, 7)));
    helper.liveSubchannels().forEach(sc -> sc.deliver(READY));
    assertThat(helper.state()).isEqualTo(READY);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void halfTheFleetTerminating_everyClientsSubsetHoldsReadyEndpointsOnly(String policy) {
    // 40 pods, the first 20 terminating but still serving (a rolling update), subset 4.
    List<EquivalentAddressGroup> all = new java.util.ArrayList<>();
    for (int i = 0; i < 40; i++) {
      EquivalentAddressGroup group = EndpointGroups.endpoint(i);
      all.add(
          i < 20
              ? new EquivalentAddressGroup(
                  group.getAddresses(),
                  Attributes.newBuilder()
                      .set(EndpointAttributes.CONDITION, EndpointCondition.TERMINATING_SERVING)
                      .build())
              : group);
    }
    Set<List<java.net.SocketAddress>> ready = addresses(all.subList(20, 40));
    int clientsWithTerminatingPods = 0;
    for (int client = 0; client < 200; client++) {
      FakeHelper clientHelper = new FakeHelper();
      LoadBalancer clientBalancer = provider(policy).newLoadBalancer(clientHelper);
      ConfigOrError parsed =
          provider(policy)
              .parseLoadBalancingPolicyConfig(
                  Map.of("subsetting", Map.of("subsetSize", 4.0, "clientIndex", (double) client)));
      clientHelper.run(
          () ->
              clientBalancer.acceptResolvedAddresses(
                  ResolvedAddresses.newBuilder()
                      .setAddresses(all)
                      .setLoadBalancingPolicyConfig(parsed.getConfig())
                      .build()));
      Set<List<java.net.SocketAddress>> subset =
          clientHelper.liveSubchannels().stream()
              .map(sc -> sc.getAddresses().getAddresses())
              .collect(Collectors.toSet());
      assertThat(subset).hasSize(4);
      clientsWithTerminatingPods += ready.containsAll(subset) ? 0 : 1;
      clientHelper.run(clientBalancer::shutdown);
      clientHelper.checkNoErrors();
    }

    assertThat(clientsWithTerminatingPods)
        .as("clients of 200 connected to a terminating pod while 20 ready ones exist")
        .isZero();
  }

  @Test
  void fewerReadyEndpointsThanSubsetSize_terminatingOnesFillTheSubset() {
    List<EquivalentAddressGroup> all = new java.util.ArrayList<>();
    for (int i = 0; i < 10; i++) {
      EquivalentAddressGroup group = EndpointGroups.endpoint(i);
      all.add(
          i < 8
              ? new EquivalentAddressGroup(
                  group.getAddresses(),
                  Attributes.newBuilder()
                      .set(EndpointAttributes.CONDITION, EndpointCondition.TERMINATING_SERVING)
                      .build())
              : group);
    }
    accept(
        "kube_round_robin",
        Map.of("subsetting", Map.of("subsetSize", 4.0, "clientIndex", 1.0)),
        all,
        Attributes.EMPTY);

    assertThat(liveAddresses()).hasSize(4).containsAll(addresses(all.subList(8, 10)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void noClientIndexOption_usesTheResolversClientIndex(String policy) {
    List<EquivalentAddressGroup> all = EndpointGroups.endpoints(0, 100);
    accept(
        policy,
        Map.of("subsetting", Map.of("subsetSize", 10.0)),
        all,
        Attributes.newBuilder().set(EndpointAttributes.CLIENT_INDEX, 3).build());

    assertThat(liveAddresses()).isEqualTo(addresses(DeterministicSubset.select(all, 10, 3)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void resolverGivesClientCount_usesTheDeterministicAperture(String policy) {
    List<EquivalentAddressGroup> all = EndpointGroups.endpoints(0, 100);
    accept(
        policy,
        Map.of("subsetting", Map.of("subsetSize", 10.0)),
        all,
        Attributes.newBuilder()
            .set(EndpointAttributes.CLIENT_INDEX, 3)
            .set(EndpointAttributes.CLIENT_COUNT, 40)
            .build());

    Set<List<java.net.SocketAddress>> aperture =
        addresses(DeterministicSubset.select(all, 10, new ClientIndex(3, 40, "test")));
    assertThat(liveAddresses()).isEqualTo(aperture);
    assertThat(aperture).isNotEqualTo(addresses(DeterministicSubset.select(all, 10, 3)));
  }

  @Test
  void clientCountOption_usesTheDeterministicAperture_andRoundTrips() {
    List<EquivalentAddressGroup> all = EndpointGroups.endpoints(0, 100);
    Map<String, ?> raw =
        Map.of("subsetting", Map.of("subsetSize", 10.0, "clientIndex", 3.0, "clientCount", 40.0));
    accept("kube_round_robin", raw, all, Attributes.EMPTY);

    assertThat(liveAddresses())
        .isEqualTo(addresses(DeterministicSubset.select(all, 10, new ClientIndex(3, 40, "test"))));
    SubsettingConfig config = SubsettingConfig.parseFrom("p", raw);
    assertThat(config.clientCount).isEqualTo(40);
    assertThat(SubsettingConfig.parseFrom("p", Map.of("subsetting", config.toJson())))
        .isEqualTo(config);
  }

  @Test
  void clientCountWithoutIndexOrNotAboveIt_rejectedWithBothValues() {
    ConfigOrError noIndex =
        provider("kube_round_robin")
            .parseLoadBalancingPolicyConfig(
                Map.of("subsetting", Map.of("subsetSize", 10.0, "clientCount", 5.0)));
    ConfigOrError indexTooBig =
        provider("kube_round_robin")
            .parseLoadBalancingPolicyConfig(
                Map.of(
                    "subsetting",
                    Map.of("subsetSize", 10.0, "clientIndex", 5.0, "clientCount", 5.0)));

    assertThat(noIndex.getError().getDescription())
        .contains("subsetting", "'clientCount' is 5", "'clientIndex' is missing");
    assertThat(indexTooBig.getError().getDescription())
        .contains("'clientCount' is 5", "'clientIndex' is 5", "[0, clientCount - 1]");
  }

  @Test
  void endpointAdded_clientKeepsAllButAtMostOneConnection() {
    List<EquivalentAddressGroup> all = EndpointGroups.endpoints(0, 100);
    Map<String, ?> raw = Map.of("subsetting", Map.of("subsetSize", 10.0, "clientIndex", 4.0));
    accept("kube_round_robin", raw, all, Attributes.EMPTY);
    Set<List<java.net.SocketAddress>> before = liveAddresses();

    accept("kube_round_robin", raw, EndpointGroups.endpoints(0, 101), Attributes.EMPTY);

    Set<List<java.net.SocketAddress>> kept = liveAddresses();
    kept.retainAll(before);
    assertThat(kept.size()).isGreaterThanOrEqualTo(before.size() - 1);
  }

  @Test
  void fewerEndpointsThanSubsetSize_usesAll() {
    accept(
        "kube_round_robin",
        Map.of("subsetting", Map.of("subsetSize", 10.0)),
        EndpointGroups.endpoints(0, 4),
        Attributes.EMPTY);

    assertThat(helper.createdSubchannels()).hasSize(4);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void badSubsetting_rejectedWithFieldValueAndExpectation(String policy) {
    ConfigOrError zero =
        provider(policy)
            .parseLoadBalancingPolicyConfig(Map.of("subsetting", Map.of("subsetSize", 0.0)));
    ConfigOrError missing =
        provider(policy)
            .parseLoadBalancingPolicyConfig(Map.of("subsetting", Map.of("clientIndex", 1.0)));

    assertThat(zero.getError().getDescription())
        .contains(policy, "subsetting", "subsetSize", "0.0", "[1, 1000000]");
    assertThat(missing.getError().getDescription()).contains("'subsetSize' is missing");
  }

  @Test
  void clientIndex_sourcesInOrder() {
    SubsettingConfig derive =
        SubsettingConfig.parseFrom("p", Map.of("subsetting", Map.of("subsetSize", 5.0)));
    SubsettingConfig explicit =
        SubsettingConfig.parseFrom(
            "p", Map.of("subsetting", Map.of("subsetSize", 5.0, "clientIndex", 9.0)));
    Attributes fromResolver =
        Attributes.newBuilder().set(EndpointAttributes.CLIENT_INDEX, 4).build();

    assertThat(ClientIndex.resolve(explicit, fromResolver, "web-2").index()).isEqualTo(9);
    assertThat(ClientIndex.resolve(derive, fromResolver, "web-2").index()).isEqualTo(4);
    assertThat(ClientIndex.resolve(derive, fromResolver, "web-2").count()).isZero();
    Attributes withCount =
        fromResolver.toBuilder().set(EndpointAttributes.CLIENT_COUNT, 12).build();
    assertThat(ClientIndex.resolve(derive, withCount, "web-2"))
        .isEqualTo(new ClientIndex(4, 12, "the name resolver"));
    assertThat(ClientIndex.resolve(derive, Attributes.EMPTY, "web-2").countKnown()).isFalse();
    assertThat(ClientIndex.resolve(derive, Attributes.EMPTY, "web-2").index()).isEqualTo(2);
    ClientIndex hashed = ClientIndex.resolve(derive, Attributes.EMPTY, "web-7d4b9c8f6-x2x9z");
    assertThat(hashed.index())
        .isEqualTo(ClientIndex.resolve(derive, Attributes.EMPTY, "web-7d4b9c8f6-x2x9z").index())
        .isBetween(0L, (long) Integer.MAX_VALUE);
    assertThat(hashed.source()).contains("hash", "subsetting.clientIndex");
  }
}
