package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.CONNECTING;
import static io.grpc.ConnectivityState.IDLE;
import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.github.kubegrpclb.testing.TestMetrics;
import io.grpc.Attributes;
import io.grpc.ClientStreamTracer;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Slow start on the fake clock: the ramp of a joining endpoint, none at start-up, none when every
 * endpoint is new or comes back together, none for a GOAWAY reconnect, and the turns a ramping
 * endpoint passes spread over every other endpoint (issue 25).
 */
class SlowStartTest {
  private final FakeHelper helper = new FakeHelper();
  private final FakeClock clock = helper.clock();
  private final Random random = new Random(11);
  private final EndpointSetLoadBalancer<Void> balancer =
      KubeRoundRobinPolicy.balancer(helper, random::nextInt, clock.ticker(), (sc, t, cb) -> {});

  @AfterEach
  void noErrorsInSyncContext() {
    helper.checkNoErrors();
  }

  private void accept(List<EquivalentAddressGroup> groups, Map<String, ?> raw) {
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(groups)
                    .setLoadBalancingPolicyConfig(KubeRoundRobinConfig.parse(raw))
                    .build()));
    for (FakeHelper.FakeSubchannel subchannel : helper.liveSubchannels()) {
      subchannel.deliver(READY);
    }
  }

  private int picksOf(Subchannel subchannel, int picks) {
    LoadBalancer.SubchannelPicker picker = helper.picker();
    int count = 0;
    for (int i = 0; i < picks; i++) {
      count += picker.pickSubchannel(PickArgs.UNARY).getSubchannel() == subchannel ? 1 : 0;
    }
    return count;
  }

  @Test
  void endpointAddedUnderTraffic_rampsQuadraticallyOver10s_fromOnePercent() {
    accept(EndpointGroups.endpoints(0, 4), Map.of());
    Subchannel first = helper.subchannelFor(EndpointGroups.endpoint(0));
    assertThat(picksOf(first, 10_000)).isEqualTo(2500); // start-up: no ramp

    accept(EndpointGroups.endpoints(0, 5), Map.of());
    Subchannel joined = helper.subchannelFor(EndpointGroups.endpoint(4));

    // Its share is its weight over the sum of the weights: 1 % -> 0.01 / 4.01 = 0.25 % of picks.
    assertThat(picksOf(joined, 100_000)).isBetween(100, 400);
    clock.forward(Duration.ofSeconds(5)); // weight (5 / 10)^2 = 25 %: 0.25 / 4.25 = 5.9 %
    assertThat(picksOf(joined, 100_000)).isBetween(5_300, 6_500);
    clock.forward(Duration.ofMillis(4_999));
    assertThat(picksOf(joined, 10_000)).isLessThan(2000);
    clock.forward(Duration.ofMillis(1)); // the window is over: plain round robin
    assertThat(picksOf(joined, 10_000)).isEqualTo(2000);
    assertThat(clock.pendingTasks()).isOne(); // outlier ejection's interval; no more refreshes
  }

  @Test
  void reconnectedEndpoint_rampsAgain_disabledDoesNot() {
    accept(EndpointGroups.endpoints(0, 4), Map.of());
    Subchannel flaky = helper.subchannelFor(EndpointGroups.endpoint(2));
    ((FakeHelper.FakeSubchannel) flaky).deliver(TRANSIENT_FAILURE);
    ((FakeHelper.FakeSubchannel) flaky).deliver(READY);
    assertThat(picksOf(flaky, 100_000)).isLessThan(500);

    accept(EndpointGroups.endpoints(0, 4), Map.of("slowStart", Map.of("enabled", false)));
    ((FakeHelper.FakeSubchannel) flaky).deliver(TRANSIENT_FAILURE);
    ((FakeHelper.FakeSubchannel) flaky).deliver(READY);
    assertThat(picksOf(flaky, 10_000)).isEqualTo(2500);
  }

  @Test
  void endpointJoinsPeersStillRamping_rampsBehindThem_notFullWeight() {
    // FleetChaos seed 118: a rolling update replaced every settled pod with pods still ramping,
    // then a surge added pods; with no settled peer left they joined unramped at full weight and
    // took 3-5x the share of the pods that had been warming for seconds.
    accept(EndpointGroups.endpoints(0, 1), Map.of());
    accept(EndpointGroups.endpoints(0, 2), Map.of()); // endpoint 1 ramps against endpoint 0
    clock.forward(Duration.ofSeconds(5)); // endpoint 1 at weight 25 %
    accept(EndpointGroups.endpoints(1, 2), Map.of()); // the settled endpoint leaves

    accept(EndpointGroups.endpoints(1, 3), Map.of()); // endpoint 2 joins endpoint 1, still ramping
    Subchannel warming = helper.subchannelFor(EndpointGroups.endpoint(1));
    Subchannel joined = helper.subchannelFor(EndpointGroups.endpoint(2));

    // Weights 25 % and 1 %: the newest pod gets 1 / 26 of the picks (it got 1 / 1.25 = 80 %).
    Map<Subchannel, Integer> picks = picksPerSubchannel(10_000);
    assertThat(picks.getOrDefault(joined, 0)).as("%s", picks).isLessThan(1_000);
    assertThat(picks.get(warming)).isGreaterThan(9_000);
  }

  @Test
  void endpointAddedSoonAfterClientBlip_rampsAgainstThePodsThatCameBack() {
    // FleetChaos seed 177: after a blip every pod came back unramped and counted as new for the
    // window, so the pods a surge added 5-8 s later joined unramped too, cold at full weight.
    accept(EndpointGroups.endpoints(0, 4), Map.of());
    for (FakeHelper.FakeSubchannel subchannel : helper.liveSubchannels()) {
      subchannel.deliver(TRANSIENT_FAILURE); // the blip
    }
    for (FakeHelper.FakeSubchannel subchannel : helper.liveSubchannels()) {
      subchannel.deliver(READY); // back together: none ramps
    }
    Subchannel back = helper.subchannelFor(EndpointGroups.endpoint(0));
    assertThat(picksOf(back, 10_000)).isEqualTo(2500);
    clock.forward(Duration.ofSeconds(5));

    accept(EndpointGroups.endpoints(0, 5), Map.of());
    Subchannel added = helper.subchannelFor(EndpointGroups.endpoint(4));

    // Weight 1 %: 0.01 / 4.01 = 0.25 % of picks (it got 20 %, 20,000).
    assertThat(picksOf(added, 100_000)).isBetween(100, 400);
  }

  @Test
  void podsStillReconnectingAfterABlip_doNotRampBehindANewPodAddedMeanwhile() {
    // FleetChaos seed 178: pods that served before the blip came back after a rolling update's new
    // pod had joined (ramping against the ones back first); ramping behind it, half the fleet sat
    // at 1 % weight while the two first back took nearly every RPC.
    accept(EndpointGroups.endpoints(0, 4), Map.of());
    for (FakeHelper.FakeSubchannel subchannel : helper.liveSubchannels()) {
      subchannel.deliver(TRANSIENT_FAILURE); // the blip
    }
    helper.subchannelFor(EndpointGroups.endpoint(0)).deliver(READY);
    helper.subchannelFor(EndpointGroups.endpoint(1)).deliver(READY);
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(EndpointGroups.endpoints(0, 5))
                    .setLoadBalancingPolicyConfig(KubeRoundRobinConfig.parse(Map.of()))
                    .build()));
    helper.subchannelFor(EndpointGroups.endpoint(4)).deliver(READY); // ramps against 0 and 1
    Subchannel added = helper.subchannelFor(EndpointGroups.endpoint(4));

    helper.subchannelFor(EndpointGroups.endpoint(2)).deliver(READY); // back after the new pod
    helper.subchannelFor(EndpointGroups.endpoint(3)).deliver(READY);

    // Full weight for the four that came back, 1 % for the new pod: about 24.9 % each.
    Map<Subchannel, Integer> picks = picksPerSubchannel(100_000);
    Subchannel lateBack = helper.subchannelFor(EndpointGroups.endpoint(2));
    Subchannel firstBack = helper.subchannelFor(EndpointGroups.endpoint(0));
    assertThat(picks.get(lateBack)).as("%s", picks).isBetween(23_000, 27_000);
    assertThat(picks.get(firstBack)).as("%s", picks).isBetween(23_000, 27_000);
    assertThat(picks.getOrDefault(added, 0)).as("%s", picks).isLessThan(1_000);
  }

  private Map<Subchannel, Integer> picksPerSubchannel(int picks) {
    LoadBalancer.SubchannelPicker picker = helper.picker();
    Map<Subchannel, Integer> counts = new java.util.HashMap<>();
    for (int i = 0; i < picks; i++) {
      counts.merge(picker.pickSubchannel(PickArgs.UNARY).getSubchannel(), 1, Integer::sum);
    }
    return counts;
  }

  @Test
  void scaleUpX2_rampingBlockPassesTurns_spreadOverEveryOldEndpoint_noNeighbourFunnel() {
    accept(EndpointGroups.endpoints(0, 10), Map.of());
    accept(EndpointGroups.endpoints(0, 20), Map.of()); // ten join in one block, weight 1 %

    Map<Subchannel, Integer> picks = picksPerSubchannel(100_000);

    for (int i = 0; i < 10; i++) {
      assertThat(picks.getOrDefault(helper.subchannelFor(EndpointGroups.endpoint(i)), 0))
          .as("old endpoint %s of 10 carries 1 / (10 + 10 x 1 %%) = 9.9 %%: %s", i, picks)
          .isBetween(9_000, 10_800);
    }
    clock.forward(Duration.ofSeconds(5)); // new ones at 25 %: old ones 1 / 12.5 = 8 %
    picks = picksPerSubchannel(100_000);
    for (int i = 0; i < 10; i++) {
      assertThat(picks.getOrDefault(helper.subchannelFor(EndpointGroups.endpoint(i)), 0))
          .as("old endpoint %s: %s", i, picks)
          .isBetween(7_200, 8_800);
    }
  }

  @Test
  void blueGreenSwap_everyEndpointNew_noneRamps_equalShares() {
    accept(EndpointGroups.endpoints(0, 4), Map.of());
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(EndpointGroups.endpoints(4, 8))
                    .setLoadBalancingPolicyConfig(KubeRoundRobinConfig.parse(Map.of()))
                    .build()));
    for (int i = 4; i < 8; i++) { // one at a time, as connections complete
      helper.subchannelFor(EndpointGroups.endpoint(i)).deliver(READY);
      clock.forward(Duration.ofMillis(300));
    }

    for (int i = 4; i < 8; i++) {
      assertThat(picksOf(helper.subchannelFor(EndpointGroups.endpoint(i)), 10_000))
          .as("new endpoint %s", i)
          .isEqualTo(2500);
    }
  }

  @Test
  void clientSideBlip_allReconnectTogether_noneRamps_equalShares() {
    accept(EndpointGroups.endpoints(0, 4), Map.of());
    clock.forward(Duration.ofSeconds(30));
    for (FakeHelper.FakeSubchannel subchannel : helper.liveSubchannels()) {
      subchannel.deliver(TRANSIENT_FAILURE);
    }
    for (FakeHelper.FakeSubchannel subchannel : helper.liveSubchannels()) {
      subchannel.deliver(READY); // the first back sees nobody connected
      clock.forward(Duration.ofMillis(400)); // reconnect backoff spreads them
    }

    for (FakeHelper.FakeSubchannel subchannel : helper.liveSubchannels()) {
      assertThat(picksOf(subchannel, 10_000)).isEqualTo(2500);
    }
    clock.forward(Duration.ofSeconds(8)); // the first back settles: still no ramp
    for (FakeHelper.FakeSubchannel subchannel : helper.liveSubchannels()) {
      assertThat(picksOf(subchannel, 10_000)).isEqualTo(2500);
    }
  }

  @Test
  void peakEwma_clientSideBlip_noneRamps_everyWeightOne() {
    FakeHelper ewmaHelper = new FakeHelper();
    EndpointSetLoadBalancer<PeakEwmaLoad> ewma =
        PeakEwmaPolicy.balancer(
            ewmaHelper, ewmaHelper.clock().ticker(), random::nextInt, (sc, t, cb) -> {});
    ewmaHelper.run(
        () ->
            ewma.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(EndpointGroups.endpoints(0, 4))
                    .setLoadBalancingPolicyConfig(PeakEwmaConfig.parse(Map.of()))
                    .build()));
    ewmaHelper.liveSubchannels().forEach(subchannel -> subchannel.deliver(READY));
    ewmaHelper.clock().forward(Duration.ofSeconds(30));
    ewmaHelper.liveSubchannels().forEach(subchannel -> subchannel.deliver(TRANSIENT_FAILURE));
    for (FakeHelper.FakeSubchannel subchannel : ewmaHelper.liveSubchannels()) {
      subchannel.deliver(READY);
      ewmaHelper.clock().forward(Duration.ofMillis(400));
    }

    assertThat(ewmaHelper.liveSubchannels())
        .allSatisfy(
            subchannel ->
                assertThat(ewma.slowStart().weight(ewma.endpointFor(subchannel))).isEqualTo(1));
    ewmaHelper.run(ewma::shutdown);
    ewmaHelper.checkNoErrors();
  }

  @Test
  void peakEwma_podRestartedAmongPeersAsFast_takesAboutItsRampShare_notNone() {
    // 2 s into the ramp among 10: weight 0.09 -> 0.25, share 0.09 / 9.09 -> 0.25 / 9.25.
    assertThat(picksOfPodRestartedAmong(10))
        .as("about 10-27 of 1,000 by the ramp")
        .isBetween(5, 60);
  }

  @Test
  void peakEwma_twoReplicas_podRestarted_rampsInsteadOfGettingNothingUntilItsRampEnds() {
    // Every endpoint is a candidate with 2 replicas and choiceCount 2: cost / weight made the
    // restarted pod lose every pick (22 ms against 2 ms); drawn by weight it takes roughly its
    // ramp's share of the pairs (about 8-40 %).
    assertThat(picksOfPodRestartedAmong(2)).as("of 1,000 picks during the ramp").isBetween(40, 450);
  }

  /**
   * peak_ewma over {@code endpoints} pods answering in 2 ms; pod 0 reconnects 30 s in and is 3 s
   * into its ramp (weight 0.09): its picks of the next 1,000 (2 s more, weight 0.25).
   */
  private int picksOfPodRestartedAmong(int endpoints) {
    FakeHelper ewmaHelper = new FakeHelper();
    FakeClock ewmaClock = ewmaHelper.clock();
    EndpointSetLoadBalancer<PeakEwmaLoad> ewma =
        PeakEwmaPolicy.balancer(ewmaHelper, ewmaClock.ticker(), random::nextInt, (sc, t, cb) -> {});
    ewmaHelper.run(
        () ->
            ewma.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(EndpointGroups.endpoints(0, endpoints))
                    .setLoadBalancingPolicyConfig(PeakEwmaConfig.parse(Map.of()))
                    .build()));
    ewmaHelper.liveSubchannels().forEach(subchannel -> subchannel.deliver(READY));
    for (int i = 0; i < 1000; i++) {
      rpcOf(ewmaHelper, Duration.ofMillis(2));
    }
    ewmaClock.forward(Duration.ofSeconds(30));
    FakeHelper.FakeSubchannel restarted = ewmaHelper.subchannelFor(EndpointGroups.endpoint(0));
    restarted.deliver(TRANSIENT_FAILURE);
    restarted.deliver(READY);
    ewmaClock.forward(Duration.ofSeconds(3));
    int picked = 0;
    for (int i = 0; i < 1000; i++) {
      picked += rpcOf(ewmaHelper, Duration.ofMillis(2)) == restarted ? 1 : 0;
    }
    ewmaHelper.run(ewma::shutdown);
    ewmaHelper.checkNoErrors();
    return picked;
  }

  /** One unary RPC picked now and answered after {@code latency}; returns the subchannel. */
  private static Subchannel rpcOf(FakeHelper helper, Duration latency) {
    LoadBalancer.PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
    ClientStreamTracer tracer =
        result
            .getStreamTracerFactory()
            .newClientStreamTracer(
                ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata());
    tracer.outboundHeaders();
    helper.clock().forward(latency);
    tracer.inboundMessage(0);
    tracer.streamClosed(Status.OK);
    return result.getSubchannel();
  }

  @Test
  void podCrash_oneEndpointBackAmongSettledPeers_stillRamps() {
    accept(EndpointGroups.endpoints(0, 4), Map.of());
    clock.forward(Duration.ofSeconds(30));
    FakeHelper.FakeSubchannel crashed = helper.subchannelFor(EndpointGroups.endpoint(1));
    crashed.deliver(TRANSIENT_FAILURE);
    crashed.deliver(READY);

    assertThat(picksOf(crashed, 100_000)).isBetween(100, 500);
  }

  @Test
  void goAwayReconnect_afterRollingUpdate_notANewEndpoint_fairShareAtOnce() {
    accept(EndpointGroups.endpoints(0, 4), Map.of());
    accept(EndpointGroups.endpoints(0, 5), Map.of()); // a rolling update's new pod
    FakeHelper.FakeSubchannel joined = helper.subchannelFor(EndpointGroups.endpoint(4));
    clock.forward(Duration.ofSeconds(10)); // its ramp is over
    assertThat(picksOf(joined, 10_000)).isEqualTo(2000);

    joined.deliver(IDLE); // graceful GOAWAY (max connection age); the balancer reconnects
    joined.deliver(CONNECTING);
    joined.deliver(READY);

    assertThat(picksOf(joined, 10_000)).as("a plain GOAWAY reconnect").isEqualTo(2000);
  }

  @Test
  void config_weightFormula() {
    SlowStartConfig config =
        SlowStartConfig.parse(
            "p", Map.of("window", "10s", "minWeightPercent", 10.0, "aggression", 1.0));

    assertThat(config.weight(0)).isEqualTo(0.1);
    assertThat(config.weight(5_000_000_000L)).isEqualTo(0.5);
    assertThat(config.weight(10_000_000_000L)).isEqualTo(1);
    assertThat(SlowStartConfig.DEFAULTS.weight(5_000_000_000L)).isEqualTo(0.25);
  }

  @Test
  void joiningEndpoint_rampShownInSnapshotAndMetrics_untilItsWindowEnds() {
    String target = "slow-start-observed";
    FakeHelper observed = new FakeHelper(target);
    FakeClock time = observed.clock();
    EndpointSetLoadBalancer<Void> watched =
        KubeRoundRobinPolicy.balancer(observed, random::nextInt, time.ticker(), (sc, t, cb) -> {});
    try (TestMetrics metrics = new TestMetrics()) {
      Attributes telemetry =
          Attributes.newBuilder()
              .set(LbTelemetry.ATTRIBUTE, LbTelemetry.create(metrics.openTelemetry()))
              .build();
      for (int size : new int[] {4, 5}) {
        observed.run(
            () ->
                watched.acceptResolvedAddresses(
                    ResolvedAddresses.newBuilder()
                        .setAddresses(EndpointGroups.endpoints(0, size))
                        .setLoadBalancingPolicyConfig(KubeRoundRobinConfig.parse(Map.of()))
                        .setAttributes(telemetry)
                        .build()));
        observed.liveSubchannels().forEach(subchannel -> subchannel.deliver(READY));
      }
      String joined =
          EndpointGroups.endpoint(4).getAddresses().get(0).toString().replaceFirst("^/", "");
      Map<String, Object> ramping = Map.of("target", target, "ramping", true);

      time.forward(Duration.ofSeconds(5)); // weight (5 / 10)^2 = 25 %

      assertThat(LbDebug.snapshot(target))
          .contains("5 endpoints, 5 in rotation (1 ramping up)")
          .contains(joined + " READY ready zone=- in-rotation ramping 25%");
      assertThat(metrics.value("kube_grpc_lb.endpoint.weight", Map.of("endpoint", joined)))
          .isEqualTo(0.25);
      assertThat(metrics.sum("kube_grpc_lb.endpoints", ramping)).isEqualTo(1);
      assertThat(metrics.sum("kube_grpc_lb.endpoint.state", ramping)).isEqualTo(1);
      assertThat(metrics.sum("kube_grpc_lb.endpoint.weight", Map.of("target", target)))
          .as("the other four at full weight")
          .isEqualTo(4.25);

      time.forward(Duration.ofSeconds(5)); // the window is over

      assertThat(LbDebug.snapshot(target)).doesNotContain("ramping");
      assertThat(metrics.value("kube_grpc_lb.endpoint.weight", Map.of("endpoint", joined)))
          .isEqualTo(1);
      assertThat(metrics.sum("kube_grpc_lb.endpoints", ramping)).isZero();
    } finally {
      observed.run(watched::shutdown);
    }
  }
}
