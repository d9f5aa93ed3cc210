package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.github.kubegrpclb.testing.RecordingChannelLogger;
import io.github.kubegrpclb.testing.TestMetrics;
import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.ClientStreamTracer;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer.Helper;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.LoadBalancer.SubchannelPicker;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.util.ForwardingLoadBalancerHelper;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Load-aware zone spill ({@link ZoneSpill}), the same for both policies, timed exactly on the fake
 * clock: the load band (0.8 to 2.0 RPCs in flight per local endpoint), sampled 10 times per 1 s
 * interval, decides how many endpoints of other zones join the rotation.
 */
class ZoneSpillTest {
  private static final String TARGET = "zone-spill-test.default.svc";
  private static final String SPILLED = "kube_grpc_lb.zone_spill.endpoints";
  private static final String LOCAL_LOAD = "kube_grpc_lb.zone_spill.local_load";

  private final FakeHelper helper = new FakeHelper(TARGET);
  private final FakeClock clock = helper.clock();
  private final List<ClientStreamTracer> inFlight = new ArrayList<>();
  private final TestMetrics metrics = new TestMetrics();
  private final RecordingChannelLogger log = new RecordingChannelLogger();
  // The fake helper, with a channel log the test reads.
  private final Helper logged =
      new ForwardingLoadBalancerHelper() {
        @Override
        protected Helper delegate() {
          return helper;
        }

        @Override
        public ChannelLogger getChannelLogger() {
          return log;
        }
      };
  private LbTelemetry telemetry = LbTelemetry.disabled();
  private EndpointSetLoadBalancer<?> balancer;

  @AfterEach
  void noErrorsInSyncContext() {
    if (balancer != null) {
      helper.run(balancer::shutdown);
    }
    metrics.close();
    helper.checkNoErrors();
  }

  /** Endpoint {@code i} in {@code zone}, hinted for it, on {@code node} (or none). */
  private static EquivalentAddressGroup endpoint(int i, String zone, String node) {
    return new EquivalentAddressGroup(
        EndpointGroups.endpoint(i).getAddresses(),
        EndpointAttributes.of(
            EndpointCondition.READY, zone, Set.of(zone), node == null ? Set.of() : Set.of(node)));
  }

  /** Endpoints 0 and 1 in the client's zone-a; 2 to 5 in zone-b. */
  private static final List<EquivalentAddressGroup> TWO_ZONES =
      List.of(
          endpoint(0, "zone-a", null),
          endpoint(1, "zone-a", null),
          endpoint(2, "zone-b", null),
          endpoint(3, "zone-b", null),
          endpoint(4, "zone-b", null),
          endpoint(5, "zone-b", null));

  private void start(String policy, List<EquivalentAddressGroup> groups, Map<String, ?> spill) {
    start(policy, groups, spill, "zone-a", null);
  }

  private void start(
      String policy,
      List<EquivalentAddressGroup> groups,
      Map<String, ?> spill,
      String clientZone,
      String clientNode) {
    Map<String, Object> raw = new LinkedHashMap<>();
    if (spill != null) {
      raw.put("zoneSpill", spill);
    }
    Object config;
    if (policy.equals("peak_ewma")) {
      balancer =
          PeakEwmaPolicy.balancer(
              logged,
              clock.ticker(),
              new Random(3)::nextInt,
              (sc, timeout, answer) -> {},
              () -> "client-0");
      config = PeakEwmaConfig.parse(raw);
    } else {
      balancer =
          KubeRoundRobinPolicy.balancer(
              logged, bound -> 0, clock.ticker(), (sc, timeout, answer) -> {}, () -> "client-0");
      config = KubeRoundRobinConfig.parse(raw);
    }
    Attributes.Builder client = Attributes.newBuilder().set(LbTelemetry.ATTRIBUTE, telemetry);
    if (clientZone != null) {
      client.set(EndpointAttributes.CLIENT_ZONE, clientZone);
    }
    if (clientNode != null) {
      client.set(EndpointAttributes.CLIENT_NODE, clientNode);
    }
    accept(groups, client.build(), config);
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));
  }

  private Subchannel subchannel(int i) {
    return helper.subchannelFor(TWO_ZONES.get(i));
  }

  private Set<Subchannel> subchannels(int... indices) {
    Set<Subchannel> set = new HashSet<>();
    for (int i : indices) {
      set.add(subchannel(i));
    }
    return set;
  }

  private Set<Subchannel> rotation() {
    SubchannelPicker picker = helper.picker();
    if (picker instanceof KubeRoundRobinPolicy.Picker roundRobin) {
      return new HashSet<>(roundRobin.subchannels());
    }
    return new HashSet<>(((PeakEwmaPicker) picker).subchannels());
  }

  /** Starts {@code count} unary RPCs on endpoints in {@code targets}; they stay in flight. */
  private void startOn(Set<Subchannel> targets, int count) {
    for (int i = 0; i < count; i++) {
      inFlight.add(startRpc(targets));
    }
  }

  /** Runs {@code count} unary RPCs to completion on endpoints in {@code targets}. */
  private void completeOn(Set<Subchannel> targets, int count) {
    for (int i = 0; i < count; i++) {
      startRpc(targets).streamClosed(Status.OK);
    }
  }

  /** Completes {@code count} of the RPCs in flight, oldest first. */
  private void finish(int count) {
    for (int i = 0; i < count; i++) {
      inFlight.remove(0).streamClosed(Status.OK);
    }
  }

  private ClientStreamTracer startRpc(Set<Subchannel> targets) {
    for (int tries = 0; tries < 10_000; tries++) {
      PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
      if (targets.contains(result.getSubchannel())) {
        assertThat(result.getStreamTracerFactory()).as("counted: %s", result).isNotNull();
        ClientStreamTracer tracer =
            result
                .getStreamTracerFactory()
                .newClientStreamTracer(
                    ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata());
        tracer.outboundHeaders();
        return tracer;
      }
    }
    throw new AssertionError("no pick of " + targets + " in 10,000 picks");
  }

  private ZoneSpill<?> spill() {
    return balancer.zoneSpill();
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void localZoneAtNormalLoad_noSpill(String policy) {
    start(policy, TWO_ZONES, null);
    startOn(subchannels(0, 1), 3); // 1.5 in flight per local endpoint: inside the band

    clock.forward(Duration.ofSeconds(10));

    assertThat(rotation()).isEqualTo(subchannels(0, 1));
    assertThat(spill().spilled()).isZero();
    assertThat(spill().published().status.projectedLoad).isEqualTo(1.5);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void localZoneOverloaded_spillsJustTheExcess_atTheIntervalsEnd(String policy) {
    start(policy, TWO_ZONES, null);
    startOn(subchannels(0, 1), 6); // 3 per local endpoint: 1 more endpoint brings it to 2

    clock.forward(Duration.ofMillis(999));
    assertThat(rotation()).as("9 of 10 samples: no decision yet").isEqualTo(subchannels(0, 1));

    clock.forward(Duration.ofMillis(1));
    assertThat(rotation()).hasSize(3).containsAll(subchannels(0, 1));
    assertThat(spill().spilled()).isEqualTo(1);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void localZoneFarOverloaded_spillsToEveryOtherEndpoint(String policy) {
    start(policy, TWO_ZONES, null);
    startOn(subchannels(0, 1), 10); // 5 per endpoint: 2 x (5 / 2 - 1) = 3 others
    clock.forward(Duration.ofSeconds(1));
    assertThat(rotation()).hasSize(5);

    startOn(subchannels(0, 1), 10); // 10 per endpoint: 8 needed, 4 exist
    clock.forward(Duration.ofSeconds(1));
    assertThat(rotation()).isEqualTo(subchannels(0, 1, 2, 3, 4, 5));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void localZoneRecovers_holdsInsideTheBand_returnsBelowIt(String policy) {
    start(policy, TWO_ZONES, null);
    startOn(subchannels(0, 1), 6);
    clock.forward(Duration.ofSeconds(1));
    Set<Subchannel> spilled = rotation();
    assertThat(spilled).hasSize(3);

    finish(3); // 1.5 per local endpoint: inside the band, where an unspilled zone stayed put
    clock.forward(Duration.ofSeconds(5));
    assertThat(rotation()).as("hysteresis: the spill holds").isEqualTo(spilled);

    finish(2); // 0.5: below the band
    clock.forward(Duration.ofMillis(999));
    assertThat(rotation()).isEqualTo(spilled);
    clock.forward(Duration.ofMillis(1));
    assertThat(rotation()).as("traffic returns").isEqualTo(subchannels(0, 1));
    assertThat(spill().spilled()).isZero();

    clock.forward(Duration.ofSeconds(10));
    assertThat(rotation()).isEqualTo(subchannels(0, 1));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void spill_showsInGaugesSnapshotAndEndpointLines_untilTheZoneRecovers(String policy) {
    telemetry = LbTelemetry.create(metrics.openTelemetry());
    start(policy, TWO_ZONES, null);
    Map<String, String> channel = Map.of("target", TARGET, "policy", policy, "zone", "zone-a");
    assertThat(metrics.value(SPILLED, channel)).isZero();
    assertThat(metrics.points(LOCAL_LOAD, channel)).as("not measured yet").isEmpty();
    assertThat(LbDebug.snapshot(TARGET))
        .contains("\n  zone spill: none (local load not yet measured, band 0.8-2.0)\n");

    startOn(subchannels(0, 1), 6); // 3 per local endpoint: 1 other endpoint joins
    clock.forward(Duration.ofSeconds(1));
    assertThat(metrics.value(SPILLED, channel)).isEqualTo(1);
    assertThat(metrics.value(LOCAL_LOAD, channel)).isEqualTo(3.0);
    String spilling = LbDebug.snapshot(TARGET);
    assertThat(spilling)
        .contains(
            "\n  zone spill: 1 of 4 others in rotation"
                + " (local load 3.00 in flight per endpoint, band 0.8-2.0)\n");
    assertThat(spilling.lines().filter(line -> line.endsWith(" spilled")))
        .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
        .contains("zone=zone-b in-rotation");
    assertThat(log.messages())
        .filteredOn(line -> line.startsWith("INFO") && line.contains("zone spill"))
        .containsExactly(
            "INFO: "
                + policy
                + ": zone spill: 1 of 4 others in rotation"
                + " (local load 3.00 in flight per endpoint, band 0.8-2.0)");

    finish(5); // 0.5 per local endpoint, all served locally: below the band
    clock.forward(Duration.ofSeconds(1));
    assertThat(metrics.value(SPILLED, channel)).isZero();
    assertThat(metrics.value(LOCAL_LOAD, channel)).isEqualTo(0.5);
    String recovered = LbDebug.snapshot(TARGET);
    assertThat(recovered)
        .contains("\n  zone spill: none (local load 0.50 in flight per endpoint, band 0.8-2.0)\n")
        .doesNotContain(" spilled");
    assertThat(log.messages())
        .filteredOn(line -> line.startsWith("INFO") && line.contains("zone spill"))
        .hasSize(2)
        .last()
        .isEqualTo(
            "INFO: "
                + policy
                + ": zone spill: none (local load 0.50 in flight per endpoint, band 0.8-2.0)");
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void noPreferenceApplies_noSpillGaugeNorSnapshotLine(String policy) {
    telemetry = LbTelemetry.create(metrics.openTelemetry());
    start(policy, TWO_ZONES, Map.of("enabled", false));
    startOn(subchannels(0, 1), 20);
    clock.forward(Duration.ofSeconds(10));

    assertThat(metrics.points(SPILLED, Map.of("target", TARGET))).isEmpty();
    assertThat(metrics.points(LOCAL_LOAD, Map.of("target", TARGET))).isEmpty();
    assertThat(LbDebug.snapshot(TARGET)).startsWith(policy).doesNotContain("zone spill");
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void whileSpilled_hintedLoadIsProjected_soTheSpillDoesNotFlap(String policy) {
    start(policy, TWO_ZONES, null);
    startOn(subchannels(0, 1), 6);
    clock.forward(Duration.ofSeconds(1));
    Set<Subchannel> others = rotation();
    others.removeAll(subchannels(0, 1));
    finish(5); // 1 in flight: 0.5 per local endpoint, below the band...

    // ...but the spilled endpoint served 3 RPCs for each local one (5 local, 15 other).
    completeOn(others, 15);
    clock.forward(Duration.ofSeconds(1));
    // projected: 0.5 x (5 + 15) / 5 = 2.0, the band's top: taking the traffic back would overload
    assertThat(spill().published().status.projectedLoad).isEqualTo(2.0);
    assertThat(spill().spilled()).isEqualTo(1);

    clock.forward(Duration.ofSeconds(1)); // no RPC finished anywhere: 0.5 per local endpoint
    assertThat(spill().spilled()).isZero();
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void spilledEndpointFails_anotherOfTheOtherZoneTakesItsPlace(String policy) {
    start(policy, TWO_ZONES, null);
    startOn(subchannels(0, 1), 6);
    clock.forward(Duration.ofSeconds(1));
    Set<Subchannel> spilledTo = rotation();
    spilledTo.removeAll(subchannels(0, 1));
    assertThat(spilledTo).hasSize(1);
    Subchannel first = spilledTo.iterator().next();
    SubchannelPicker before = helper.picker();

    int index = List.of(subchannel(2), subchannel(3), subchannel(4), subchannel(5)).indexOf(first);
    helper.subchannelFor(TWO_ZONES.get(2 + index)).deliver(TRANSIENT_FAILURE);

    Set<Subchannel> now = rotation();
    assertThat(now).hasSize(3).containsAll(subchannels(0, 1)).doesNotContain(first);
    assertThat(helper.picker()).isNotSameAs(before);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void localZoneStuck_spillsOnWhatIsInFlight(String policy) {
    start(policy, TWO_ZONES, null);
    startOn(subchannels(0, 1), 8); // hung: nothing completes anywhere

    clock.forward(Duration.ofSeconds(1));
    Set<Subchannel> spilled = rotation();
    assertThat(spilled).hasSize(4); // load 4: 2 x (4 / 2 - 1)
    spilled.removeAll(subchannels(0, 1));

    completeOn(spilled, 50); // only the others complete: no local latency to project from
    clock.forward(Duration.ofSeconds(5));
    assertThat(rotation()).hasSize(4);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void localZoneEmpty_everyEndpoint_asToday(String policy) {
    start(policy, TWO_ZONES, null);
    helper.subchannelFor(TWO_ZONES.get(0)).deliver(TRANSIENT_FAILURE);
    helper.subchannelFor(TWO_ZONES.get(1)).deliver(TRANSIENT_FAILURE);

    assertThat(rotation()).isEqualTo(subchannels(2, 3, 4, 5));
    assertThat(spill().isActive()).isFalse();
    clock.forward(Duration.ofSeconds(10));
    assertThat(rotation()).isEqualTo(subchannels(2, 3, 4, 5));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void spillDisabled_staticHints(String policy) {
    start(policy, TWO_ZONES, Map.of("enabled", false));
    startOn(subchannels(0, 1), 20);

    clock.forward(Duration.ofSeconds(10));

    assertThat(rotation()).isEqualTo(subchannels(0, 1));
    assertThat(spill().isActive()).isFalse();
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void bandIsConfigurable(String policy) {
    start(policy, TWO_ZONES, Map.of("highLoad", 4.0, "lowLoad", 1.0, "interval", "0.5s"));
    startOn(subchannels(0, 1), 6); // 3 per endpoint: under highLoad 4

    clock.forward(Duration.ofSeconds(5));
    assertThat(rotation()).isEqualTo(subchannels(0, 1));

    startOn(subchannels(0, 1), 4); // 5 per endpoint: 2 x (5 / 4 - 1) = 0.5, so 1 other
    clock.forward(Duration.ofMillis(500));
    assertThat(rotation()).hasSize(3);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void nodePreference_spillsToTheSameZoneFirst(String policy) {
    List<EquivalentAddressGroup> groups =
        List.of(
            endpoint(0, "zone-a", "node-a"),
            endpoint(1, "zone-b", "node-b"),
            endpoint(2, "zone-b", "node-c"),
            endpoint(3, "zone-a", "node-d"),
            endpoint(4, "zone-b", "node-e"));
    start(policy, groups, null, "zone-a", "node-a");
    Subchannel sameNode = helper.subchannelFor(groups.get(0));
    Subchannel sameZone = helper.subchannelFor(groups.get(3));
    assertThat(rotation()).containsExactly(sameNode);

    startOn(Set.of(sameNode), 3); // 3 on the one node-local endpoint: 1 x (3 / 2 - 1), so 1
    clock.forward(Duration.ofSeconds(1));

    assertThat(rotation()).containsExactlyInAnyOrder(sameNode, sameZone);
  }

  @Test
  void configChangeWhileSpilling_everyEndpointInRotation_usesTheNewConfigsResults() {
    Map<String, ?> noEjection = Map.of("outlierEjection", Map.of("enabled", false));
    start("kube_round_robin", TWO_ZONES, null);
    Attributes client =
        Attributes.newBuilder()
            .set(EndpointAttributes.CLIENT_ZONE, "zone-a")
            .set(LbTelemetry.ATTRIBUTE, telemetry)
            .build();
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(TWO_ZONES)
                    .setAttributes(client)
                    .setLoadBalancingPolicyConfig(KubeRoundRobinConfig.parse(noEjection))
                    .build()));
    startOn(subchannels(0, 1), 6); // 3 per local endpoint: spills to one more
    clock.forward(Duration.ofSeconds(1));
    assertThat(rotation()).hasSize(3);

    // Outlier ejection turned on while spilling: every result must now record outcomes.
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(TWO_ZONES)
                    .setAttributes(client)
                    .setLoadBalancingPolicyConfig(KubeRoundRobinConfig.parse(Map.of()))
                    .build()));

    assertThat(rotation()).hasSize(3);
    Map<Subchannel, Object> tracers = new java.util.HashMap<>();
    for (int i = 0; i < 30; i++) {
      PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
      tracers.put(result.getSubchannel(), result.getStreamTracerFactory());
    }
    assertThat(tracers).hasSize(3);
    assertThat(tracers.values())
        .as("outcome recorders after ejection was turned on: %s", tracers)
        .allSatisfy(
            tracer ->
                assertThat(tracer)
                    .isInstanceOfSatisfying(
                        RpcTracer.class, t -> assertThat(t.recordsOutcomes()).isTrue()));
  }

  @Test
  void rpcsAreCountedOnlyWhereSpillCanMatter() {
    // No client zone: kube_round_robin's unary picks carry no tracer, as before zone spill.
    start("kube_round_robin", TWO_ZONES, null, null, null);
    acceptWithoutEjection(null);
    assertThat(helper.picker().pickSubchannel(PickArgs.UNARY).getStreamTracerFactory()).isNull();
    assertThat(spill().isActive()).isFalse();

    // The client's zone becomes known: counted from the next picker on.
    acceptWithoutEjection("zone-a");
    assertThat(spill().isActive()).isTrue();
    assertThat(helper.picker().pickSubchannel(PickArgs.UNARY).getStreamTracerFactory()).isNotNull();
    assertThat(helper.picker().pickSubchannel(PickArgs.CLIENT_STREAMING).getStreamTracerFactory())
        .as("streams are not load")
        .isNull();
  }

  @Test
  void noHintNamesTheClient_unaryRpcsNotCounted() {
    // The client's zone is known, but no endpoint is hinted for it: no preference can apply.
    start("kube_round_robin", TWO_ZONES, null, "zone-c", null);
    acceptWithoutEjection("zone-c");

    assertThat(spill().measures()).isFalse();
    assertThat(helper.picker().pickSubchannel(PickArgs.UNARY).getStreamTracerFactory()).isNull();
  }

  @Test
  void hintNamesTheClient_preferenceNotApplyingYet_unaryRpcsAlreadyCounted() {
    startInZoneAWithoutEjection();
    helper.subchannelFor(TWO_ZONES.get(0)).deliver(TRANSIENT_FAILURE);
    helper.subchannelFor(TWO_ZONES.get(1)).deliver(TRANSIENT_FAILURE);
    assertThat(rotation()).isEqualTo(subchannels(2, 3, 4, 5));
    assertThat(spill().isActive()).isFalse();

    // Counted already, so a preference that applies on a later state change finds every
    // endpoint's pick results counting: one build per endpoint, none per change of preference.
    assertThat(spill().measures()).isTrue();
    assertThat(helper.picker().pickSubchannel(PickArgs.UNARY).getStreamTracerFactory()).isNotNull();

    helper.subchannelFor(TWO_ZONES.get(0)).deliver(READY);
    helper.subchannelFor(TWO_ZONES.get(1)).deliver(READY);
    assertThat(rotation()).isEqualTo(subchannels(0, 1));
    assertThat(spill().isActive()).isTrue();
    assertThat(helper.picker().pickSubchannel(PickArgs.UNARY).getStreamTracerFactory()).isNotNull();
  }

  @Test
  void hintsDroppedAndBackWhileAnEndpointIsDown_itsRpcsAreCountedWhenItReturns() {
    startInZoneAWithoutEjection();
    helper.subchannelFor(TWO_ZONES.get(0)).deliver(TRANSIENT_FAILURE);
    acceptWithoutEjection(
        withoutHints(TWO_ZONES), "zone-a"); // the slice controller dropped the hints
    assertThat(spill().measures()).isFalse();
    acceptWithoutEjection("zone-a"); // and put them back, under the same config

    helper.subchannelFor(TWO_ZONES.get(0)).deliver(READY);
    assertThat(rotation()).isEqualTo(subchannels(0, 1));
    startOn(subchannels(0), 1);

    // The RPC is counted where spill reads: not on the counts dropped while hints were gone.
    assertThat(countedInFlight(balancer, subchannel(0))).isEqualTo(1);
  }

  @Test
  void hintsDroppedAndBackWhileEveryEndpointIsDown_rpcsAreCountedWhenTheyReturn() {
    startInZoneAWithoutEjection();
    for (EquivalentAddressGroup group : TWO_ZONES) {
      helper.subchannelFor(group).deliver(TRANSIENT_FAILURE); // a client blip
    }
    acceptWithoutEjection(
        withoutHints(TWO_ZONES), "zone-a"); // no endpoint connected: nothing is rebuilt
    acceptWithoutEjection("zone-a");

    for (EquivalentAddressGroup group : TWO_ZONES) {
      helper.subchannelFor(group).deliver(READY);
    }
    assertThat(rotation()).isEqualTo(subchannels(0, 1));
    startOn(subchannels(0), 1);

    assertThat(countedInFlight(balancer, subchannel(0))).isEqualTo(1);
  }

  @Test
  void ejectionTurnedOffWhileOneIsEjected_andSpillStartsInTheSameUpdate_picksAreCounted() {
    start("kube_round_robin", TWO_ZONES, Map.of("enabled", false)); // spill off, ejection on
    for (int i = 0; i < 5; i++) {
      ClientStreamTracer tracer = startRpc(subchannels(0));
      tracer.inboundHeaders();
      tracer.streamClosed(Status.INTERNAL); // answered failures: endpoint 0 is ejected
    }
    helper.run(() -> {});
    assertThat(rotation()).isEqualTo(subchannels(1));

    // One update: ejection off (which re-admits endpoint 0 at once) and spill on.
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(TWO_ZONES)
                    .setAttributes(
                        Attributes.newBuilder()
                            .set(EndpointAttributes.CLIENT_ZONE, "zone-a")
                            .build())
                    .setLoadBalancingPolicyConfig(
                        KubeRoundRobinConfig.parse(
                            Map.of("outlierEjection", Map.of("enabled", false))))
                    .build()));

    assertThat(spill().measures()).isTrue();
    assertThat(rotation()).isEqualTo(subchannels(0, 1));
    startOn(subchannels(0, 1), 6); // each unary result counts: 3 in flight per endpoint
    clock.forward(Duration.ofSeconds(1));
    assertThat(rotation()).as("spill sees the load and widens").hasSize(3);
  }

  /** kube_round_robin over {@link #TWO_ZONES}, the client in zone-a, outlier ejection off. */
  private void startInZoneAWithoutEjection() {
    start("kube_round_robin", TWO_ZONES, null);
    acceptWithoutEjection("zone-a");
  }

  /** {@code groups} as the slice controller publishes them when it drops the hints. */
  private static List<EquivalentAddressGroup> withoutHints(List<EquivalentAddressGroup> groups) {
    List<EquivalentAddressGroup> unhinted = new ArrayList<>();
    for (EquivalentAddressGroup group : groups) {
      unhinted.add(
          new EquivalentAddressGroup(
              group.getAddresses(),
              EndpointAttributes.of(EndpointCondition.READY, "zone-x", Set.of(), Set.of())));
    }
    return unhinted;
  }

  /** The RPCs in flight spill counts for {@code subchannel}'s endpoint, -1 when not counted. */
  private static <T> int countedInFlight(EndpointSetLoadBalancer<T> balancer, Subchannel sc) {
    SpillCounter counter = balancer.zoneSpill().counter(balancer.endpointFor(sc));
    return counter == null ? -1 : counter.inFlight();
  }

  /**
   * Accepts {@link #TWO_ZONES} again, outlier ejection off, the client in {@code clientZone} (null:
   * unknown).
   */
  private void acceptWithoutEjection(String clientZone) {
    acceptWithoutEjection(TWO_ZONES, clientZone);
  }

  private void acceptWithoutEjection(List<EquivalentAddressGroup> groups, String clientZone) {
    Attributes.Builder client = Attributes.newBuilder();
    if (clientZone != null) {
      client.set(EndpointAttributes.CLIENT_ZONE, clientZone);
    }
    accept(
        groups,
        client.build(),
        KubeRoundRobinConfig.parse(Map.of("outlierEjection", Map.of("enabled", false))));
  }

  private void accept(List<EquivalentAddressGroup> groups, Attributes attributes, Object config) {
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(groups)
                    .setAttributes(attributes)
                    .setLoadBalancingPolicyConfig(config)
                    .build()));
  }

  @Test
  void config_lowLoadNotBelowHighLoad_namesBoth() {
    assertThatThrownBy(
            () -> KubeRoundRobinConfig.parse(Map.of("zoneSpill", Map.of("lowLoad", 3.0))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "kube_round_robin zoneSpill config: lowLoad 3.0 is not below highLoad 2.0"
                + " (expected: lowLoad < highLoad, such as 0.8 and 2.0; the gap is the"
                + " hysteresis)");
    assertThatThrownBy(() -> PeakEwmaConfig.parse(Map.of("zoneSpill", Map.of("spill", true))))
        .hasMessageContaining("peak_ewma zoneSpill config: unknown field 'spill'");
    assertThatThrownBy(() -> PeakEwmaConfig.parse(Map.of("zoneSpill", Map.of("interval", "0s"))))
        .hasMessageContaining("'interval': got \"0s\"");
  }

  @Test
  void config_peakEwmaServiceConfig_roundTrips() {
    PeakEwmaConfig parsed =
        PeakEwmaConfig.parse(
            Map.of("zoneSpill", Map.of("enabled", false, "highLoad", 3.0, "interval", "2s")));
    @SuppressWarnings("unchecked")
    Map<String, ?> options =
        (Map<String, ?>)
            ((List<Map<String, ?>>) parsed.toServiceConfig().get("loadBalancingConfig"))
                .get(0)
                .get("peak_ewma");
    assertThat(PeakEwmaConfig.parse(options)).isEqualTo(parsed);
    assertThat(parsed.balancer().zoneSpill().enabled).isFalse();
    assertThat(PeakEwmaConfig.defaults().balancer().zoneSpill())
        .isEqualTo(ZoneSpillConfig.DEFAULTS);
    assertThat(ZoneSpillConfig.DEFAULTS.enabled).isTrue();
  }
}
