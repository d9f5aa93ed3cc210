package io.github.kubegrpclb.core;

import static io.github.kubegrpclb.testing.EndpointGroups.endpoint;
import static io.github.kubegrpclb.testing.EndpointGroups.endpoints;
import static io.grpc.ConnectivityState.CONNECTING;
import static io.grpc.ConnectivityState.IDLE;
import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.FakeHelper.FakeSubchannel;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.Status;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class KubeRoundRobinLoadBalancerTest {
  private final FakeHelper helper = new FakeHelper();
  private final LoadBalancer balancer = KubeRoundRobinPolicy.balancer(helper, bound -> 0);

  @AfterEach
  void noErrorsInSyncContext() {
    helper.checkNoErrors();
  }

  private static EquivalentAddressGroup withCondition(
      int i, EndpointCondition condition, Set<String> hints) {
    return new EquivalentAddressGroup(
        endpoint(i).getAddresses(), EndpointAttributes.of(condition, "zone-x", hints));
  }

  private Status accept(List<EquivalentAddressGroup> groups) {
    return accept(groups, Attributes.EMPTY);
  }

  private Status accept(List<EquivalentAddressGroup> groups, Attributes attributes) {
    AtomicReference<Status> status = new AtomicReference<>();
    helper.run(
        () ->
            status.set(
                balancer.acceptResolvedAddresses(
                    ResolvedAddresses.newBuilder()
                        .setAddresses(groups)
                        .setAttributes(attributes)
                        .build())));
    return status.get();
  }

  private Map<Subchannel, Integer> pickCounts(int picks) {
    Map<Subchannel, Integer> counts = new HashMap<>();
    for (int i = 0; i < picks; i++) {
      PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
      assertThat(result.getStatus().isOk()).as("pick %s: %s", i, result).isTrue();
      counts.merge(result.getSubchannel(), 1, Integer::sum);
    }
    return counts;
  }

  @Test
  void accept_newEndpoints_oneSubchannelEachAndConnects() {
    assertThat(accept(endpoints(0, 3)).isOk()).isTrue();

    assertThat(helper.createdSubchannels()).hasSize(3);
    assertThat(helper.createdSubchannels())
        .allSatisfy(sc -> assertThat(sc.connectionRequests()).isEqualTo(1));
    assertThat(helper.state()).isEqualTo(CONNECTING);
    assertThat(helper.picker().pickSubchannel(PickArgs.UNARY).hasResult()).isFalse();
  }

  @Test
  void update_oneOf100EndpointsChanged_createsOneSubchannelAndShutsDownOne() {
    accept(endpoints(0, 100));
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));
    FakeSubchannel removed = helper.subchannelFor(endpoint(42));

    List<EquivalentAddressGroup> next = endpoints(0, 100);
    next.set(42, endpoint(100));
    accept(next);

    assertThat(helper.createdSubchannels()).hasSize(101);
    assertThat(helper.liveSubchannels()).hasSize(100);
    assertThat(removed.isShutdown()).isTrue();
    assertThat(helper.createdSubchannels().stream().filter(FakeSubchannel::isShutdown))
        .containsExactly(removed);
  }

  @Test
  void update_sameEndpointsNewAttributes_keepsConnections() {
    accept(endpoints(0, 3));
    accept(
        List.of(
            withCondition(0, EndpointCondition.TERMINATING_SERVING, Set.of()),
            endpoint(1),
            endpoint(2)));

    assertThat(helper.createdSubchannels()).hasSize(3);
    assertThat(helper.liveSubchannels()).hasSize(3);
  }

  @Test
  void picker_readyEndpoints_evenRoundRobin() {
    accept(endpoints(0, 5));
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));

    assertThat(pickCounts(5000).values()).hasSize(5).containsOnly(1000);
  }

  @Test
  void roundRobin_endpointInTransientFailure_isSkipped() {
    accept(endpoints(0, 3));
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));
    FakeSubchannel failed = helper.subchannelFor(endpoint(1));
    failed.deliver(TRANSIENT_FAILURE);

    assertThat(helper.state()).isEqualTo(READY);
    assertThat(pickCounts(100)).doesNotContainKey(failed).hasSize(2);
  }

  @Test
  void subchannelIdle_requestsConnectionAndRefreshesResolution() {
    accept(endpoints(0, 2));
    FakeSubchannel subchannel = helper.subchannelFor(endpoint(0));
    subchannel.deliver(READY);
    int refreshesBefore = helper.refreshCount();

    subchannel.deliver(IDLE);

    assertThat(subchannel.connectionRequests()).isEqualTo(2);
    assertThat(helper.refreshCount()).isEqualTo(refreshesBefore + 1);
  }

  @Test
  void allEndpointsFailed_transientFailureIsStickyAndNamesTheFailures() {
    accept(endpoints(0, 3));
    helper.createdSubchannels().forEach(sc -> sc.deliver(TRANSIENT_FAILURE));

    assertThat(helper.state()).isEqualTo(TRANSIENT_FAILURE);
    Status status = helper.picker().pickSubchannel(PickArgs.UNARY).getStatus();
    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(status.getDescription())
        .contains("kube_round_robin", "all 3 of 3 endpoints", "connection refused");
    assertThat(helper.refreshCount()).isEqualTo(3);

    helper.createdSubchannels().forEach(sc -> sc.deliver(CONNECTING));
    assertThat(helper.state()).isEqualTo(TRANSIENT_FAILURE);

    helper.subchannelFor(endpoint(2)).deliver(READY);
    assertThat(helper.state()).isEqualTo(READY);
    assertThat(pickCounts(10)).containsOnlyKeys(helper.subchannelFor(endpoint(2)));
  }

  @Test
  void terminatingServing_usedOnlyWhenNoReadyEndpointIsConnected() {
    accept(
        List.of(
            endpoint(0),
            withCondition(1, EndpointCondition.TERMINATING_SERVING, Set.of()),
            withCondition(2, EndpointCondition.TERMINATING_SERVING, Set.of())));
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));
    FakeSubchannel ready = helper.subchannelFor(endpoint(0));

    assertThat(pickCounts(30)).containsOnlyKeys(ready);

    ready.deliver(TRANSIENT_FAILURE);
    assertThat(pickCounts(30))
        .containsOnlyKeys(helper.subchannelFor(endpoint(1)), helper.subchannelFor(endpoint(2)));
  }

  @Test
  void terminatingServing_notUsedWhileAReadyEndpointIsStillConnecting() {
    accept(List.of(endpoint(0), withCondition(1, EndpointCondition.TERMINATING_SERVING, Set.of())));
    helper.subchannelFor(endpoint(1)).deliver(READY);

    assertThat(helper.state()).isEqualTo(CONNECTING);
    assertThat(helper.picker().pickSubchannel(PickArgs.UNARY).hasResult()).isFalse();

    helper.subchannelFor(endpoint(0)).deliver(TRANSIENT_FAILURE);
    assertThat(pickCounts(5)).containsOnlyKeys(helper.subchannelFor(endpoint(1)));
  }

  @Test
  void zoneHints_clientZoneKnown_prefersHintedEndpointsAndFallsBack() {
    Attributes inZoneA =
        Attributes.newBuilder().set(EndpointAttributes.CLIENT_ZONE, "zone-a").build();
    accept(
        List.of(
            withCondition(0, EndpointCondition.READY, Set.of("zone-a")),
            withCondition(1, EndpointCondition.READY, Set.of("zone-b")),
            withCondition(2, EndpointCondition.READY, Set.of("zone-a"))),
        inZoneA);
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));

    assertThat(pickCounts(40))
        .containsOnlyKeys(helper.subchannelFor(endpoint(0)), helper.subchannelFor(endpoint(2)));

    helper.subchannelFor(endpoint(0)).deliver(TRANSIENT_FAILURE);
    helper.subchannelFor(endpoint(2)).deliver(TRANSIENT_FAILURE);
    assertThat(pickCounts(10)).containsOnlyKeys(helper.subchannelFor(endpoint(1)));
  }

  @Test
  void zoneHints_oneEndpointWithoutHint_allZonesUsed() {
    Attributes inZoneA =
        Attributes.newBuilder().set(EndpointAttributes.CLIENT_ZONE, "zone-a").build();
    accept(
        List.of(
            withCondition(0, EndpointCondition.READY, Set.of("zone-a")),
            withCondition(1, EndpointCondition.READY, Set.of())),
        inZoneA);
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));

    assertThat(pickCounts(40)).hasSize(2);
  }

  @Test
  void accept_emptyEndpointList_failsWithUnavailableNamingTheAuthority() {
    accept(endpoints(0, 2));
    Status status = accept(List.of());

    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(helper.liveSubchannels()).isEmpty();
    assertThat(helper.state()).isEqualTo(TRANSIENT_FAILURE);
    assertThat(helper.picker().pickSubchannel(PickArgs.UNARY).getStatus().getDescription())
        .contains("no endpoints", helper.getAuthority());
  }

  @Test
  void nameResolutionError_whileReady_keepsServing() {
    accept(endpoints(0, 2));
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));
    LoadBalancer.SubchannelPicker before = helper.picker();

    helper.run(
        () -> balancer.handleNameResolutionError(Status.UNAVAILABLE.withDescription("dns down")));

    assertThat(helper.state()).isEqualTo(READY);
    assertThat(helper.picker()).isSameAs(before);
  }

  @Test
  void nameResolutionError_beforeAnyEndpoint_failsWithTheResolverError() {
    helper.run(
        () -> balancer.handleNameResolutionError(Status.UNAVAILABLE.withDescription("dns down")));

    assertThat(helper.state()).isEqualTo(TRANSIENT_FAILURE);
    assertThat(helper.picker().pickSubchannel(PickArgs.UNARY).getStatus().getDescription())
        .contains("name resolution failed", "dns down");
  }

  @Test
  void shutdown_shutsDownEverySubchannel() {
    accept(endpoints(0, 3));
    helper.run(balancer::shutdown);

    assertThat(helper.liveSubchannels()).isEmpty();
  }

  @Test
  void picker_sameEndpoints_equalAndNotRepublished() {
    accept(endpoints(0, 2));
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));
    int published = helper.stateHistory().size();

    accept(endpoints(0, 2));

    assertThat(helper.stateHistory()).hasSize(published);
  }
}
