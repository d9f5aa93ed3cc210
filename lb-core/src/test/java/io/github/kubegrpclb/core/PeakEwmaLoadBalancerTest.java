package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.ClientStreamTracer;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PeakEwmaLoadBalancerTest {
  private final FakeHelper helper = new FakeHelper();
  private final FakeClock clock = helper.clock();
  private final Random random = new Random(42);
  private final EndpointSetLoadBalancer<PeakEwmaLoad> balancer =
      PeakEwmaPolicy.balancer(helper, clock.ticker(), random::nextInt);

  @AfterEach
  void noErrorsInSyncContext() {
    helper.checkNoErrors();
  }

  private void acceptReady(List<EquivalentAddressGroup> groups, PeakEwmaConfig config) {
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(groups)
                    .setLoadBalancingPolicyConfig(config)
                    .build()));
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));
  }

  /** Starts an RPC on {@code result}'s endpoint as grpc-java does: tracer, then headers out. */
  static ClientStreamTracer start(PickResult result) {
    ClientStreamTracer tracer =
        result
            .getStreamTracerFactory()
            .newClientStreamTracer(
                ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata());
    tracer.outboundHeaders();
    return tracer;
  }

  /** Runs one RPC through the picked endpoint's tracer, taking {@code latency} of fake time. */
  private Subchannel rpc(Map<Subchannel, Duration> latency, Status outcome) {
    PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
    ClientStreamTracer tracer = start(result);
    clock.forward(latency.getOrDefault(result.getSubchannel(), Duration.ofMillis(1)));
    if (outcome.isOk()) {
      tracer.inboundMessage(0);
    }
    tracer.streamClosed(outcome);
    return result.getSubchannel();
  }

  @Test
  void slowEndpoint_getsFewPicks() {
    acceptReady(EndpointGroups.endpoints(0, 5), PeakEwmaConfig.defaults());
    Subchannel slow = helper.subchannelFor(EndpointGroups.endpoint(0));
    Map<Subchannel, Duration> latency = Map.of(slow, Duration.ofMillis(50));

    Map<Subchannel, Integer> counts = new HashMap<>();
    for (int i = 0; i < 2000; i++) {
      counts.merge(rpc(latency, Status.OK), 1, Integer::sum);
    }

    assertThat(counts.getOrDefault(slow, 0)).isLessThan(20);
    assertThat(counts).hasSize(5);
  }

  @Test
  void twoSickEndpointsDrawnTogether_neitherTakesTheRpc_whenHealthyPeersExist() {
    acceptReady(EndpointGroups.endpoints(0, 10), PeakEwmaConfig.defaults());
    for (int i = 0; i < 10; i++) {
      // pods 0 and 1 carry a failure penalty (1 s), the others answer in 2 ms
      long rtt = i < 2 ? 1_000_000_000L : 2_000_000L;
      long samples = ((PeakEwmaPolicy) balancer.policy()).fleet().record((double) rtt, i >= 2);
      balancer
          .policyStateOf(helper.subchannelFor(EndpointGroups.endpoint(i)))
          .observe(
              rtt, clock.nanoTime(), samples, 10e9, ((PeakEwmaPolicy) balancer.policy()).fleet());
    }
    Set<Subchannel> sick =
        Set.of(
            helper.subchannelFor(EndpointGroups.endpoint(0)),
            helper.subchannelFor(EndpointGroups.endpoint(1)));

    int toSick = 0;
    for (int i = 0; i < 9000; i++) {
      toSick +=
          sick.contains(helper.picker().pickSubchannel(PickArgs.UNARY).getSubchannel()) ? 1 : 0;
    }

    // Plain P2C sends the RPC to a sick pod whenever both are drawn: 2 / 90 of picks, ~200.
    assertThat(toSick).isLessThan(30);
  }

  @Test
  void failingEndpoint_failuresCountAgainstIt() {
    acceptReady(EndpointGroups.endpoints(0, 3), PeakEwmaConfig.defaults());
    Subchannel failing = helper.subchannelFor(EndpointGroups.endpoint(1));

    Map<Subchannel, Integer> counts = new HashMap<>();
    for (int i = 0; i < 1000; i++) {
      PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
      Status outcome =
          result.getSubchannel() == failing ? Status.UNAVAILABLE : Status.OK; // fails in 1 ms
      ClientStreamTracer tracer = start(result);
      clock.forward(Duration.ofMillis(1));
      tracer.streamClosed(outcome);
      counts.merge(result.getSubchannel(), 1, Integer::sum);
    }

    assertThat(counts.getOrDefault(failing, 0)).isLessThan(10);
  }

  @Test
  void reconnectedEndpoint_historyForgotten_probedAgain() {
    // Ejection off: a pod answering in 2 s while its peer answers at once is ejected as
    // unresponsive (OutlierEjectionTest); this is about the estimate alone.
    acceptReady(
        EndpointGroups.endpoints(0, 2),
        PeakEwmaConfig.parse(Map.of("outlierEjection", Map.of("enabled", false))));
    Subchannel flaky = helper.subchannelFor(EndpointGroups.endpoint(0));
    Map<Subchannel, Duration> latency = Map.of(flaky, Duration.ofSeconds(2));
    for (int i = 0; i < 50; i++) {
      rpc(latency, Status.OK); // the flaky endpoint's 2 s peak keeps it out
    }
    assertThat(counts(20)).doesNotContainKey(flaky);

    helper.subchannelFor(EndpointGroups.endpoint(0)).deliver(TRANSIENT_FAILURE);
    helper.subchannelFor(EndpointGroups.endpoint(0)).deliver(READY);

    assertThat(counts(20)).containsKey(flaky); // unmeasured and idle: probed at once
  }

  private Map<Subchannel, Integer> counts(int picks) {
    Map<Subchannel, Integer> counts = new HashMap<>();
    for (int i = 0; i < picks; i++) {
      counts.merge(helper.picker().pickSubchannel(PickArgs.UNARY).getSubchannel(), 1, Integer::sum);
    }
    return counts;
  }

  @Test
  void inFlightRpcs_raiseTheCost() {
    acceptReady(EndpointGroups.endpoints(0, 2), PeakEwmaConfig.defaults());
    PickResult first = helper.picker().pickSubchannel(PickArgs.UNARY);
    // Hold one RPC open on the first pick: every following pick must avoid that endpoint.
    start(first);

    for (int i = 0; i < 20; i++) {
      assertThat(helper.picker().pickSubchannel(PickArgs.UNARY).getSubchannel())
          .isNotSameAs(first.getSubchannel());
    }
  }

  @Test
  void choiceCountThree_comparesDistinctEndpoints_mostLoadedNeverPicked() {
    PeakEwmaConfig three = PeakEwmaConfig.builder().choiceCount(3).build();
    acceptReady(EndpointGroups.endpoints(0, 4), three);
    // Endpoint i holds 3 - i RPCs open. Three distinct candidates out of four always include a
    // cheaper endpoint than endpoint 0; sampling with replacement would sometimes draw only it.
    Map<Subchannel, ClientStreamTracer.Factory> factories = tracerFactories(4);
    for (int i = 0; i < 4; i++) {
      Subchannel subchannel = helper.subchannelFor(EndpointGroups.endpoint(i));
      for (int open = 0; open < 3 - i; open++) {
        factories
            .get(subchannel)
            .newClientStreamTracer(
                ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata())
            .outboundHeaders();
      }
    }
    Subchannel mostLoaded = helper.subchannelFor(EndpointGroups.endpoint(0));
    Subchannel idle = helper.subchannelFor(EndpointGroups.endpoint(3));

    Map<Subchannel, Integer> counts = new HashMap<>();
    for (int i = 0; i < 400; i++) {
      counts.merge(helper.picker().pickSubchannel(PickArgs.UNARY).getSubchannel(), 1, Integer::sum);
    }

    assertThat(counts).doesNotContainKey(mostLoaded);
    assertThat(counts.get(idle)).isBetween(250, 350); // drawn in 3 of 4 candidate sets
  }

  /** Picks (which changes nothing) until every endpoint's tracer factory has been seen. */
  private Map<Subchannel, ClientStreamTracer.Factory> tracerFactories(int endpoints) {
    Map<Subchannel, ClientStreamTracer.Factory> factories = new HashMap<>();
    for (int i = 0; i < 1000 && factories.size() < endpoints; i++) {
      PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
      factories.put(result.getSubchannel(), result.getStreamTracerFactory());
    }
    assertThat(factories).hasSize(endpoints);
    return factories;
  }

  @Test
  void endpointLoad_firstSampleReplacesTheDefault() {
    double tau = Duration.ofSeconds(10).toNanos();
    FleetLatency fleet = new FleetLatency(30e6);
    PeakEwmaLoad load = new PeakEwmaLoad(Duration.ofMillis(30).toNanos(), 0);
    assertThat(load.estimateNanos(0, tau, fleet)).isEqualTo(30e6);

    load.observe(Duration.ofMillis(2).toNanos(), 1, fleet.record(2e6, true), tau, fleet);

    assertThat(load.estimateNanos(1, tau, fleet)).isEqualTo(2e6);
  }

  @Test
  void endpointLoad_peakJumpsUpAtOnceAndDecaysTowardHalfTheTypicalOverTime() {
    double tau = Duration.ofSeconds(10).toNanos();
    FleetLatency fleet = new FleetLatency(2e6); // typical 2 ms: estimates age toward 1 ms
    PeakEwmaLoad load = new PeakEwmaLoad(Duration.ofMillis(30).toNanos(), 0);

    load.observe(Duration.ofMillis(100).toNanos(), 0, 0, tau, fleet);
    assertThat(load.estimateNanos(0, tau, fleet)).isEqualTo(100e6);
    load.observe(Duration.ofMillis(200).toNanos(), 0, 0, tau, fleet);
    assertThat(load.estimateNanos(0, tau, fleet)).isEqualTo(200e6);
    load.observe(Duration.ofMillis(100).toNanos(), 0, 0, tau, fleet);
    assertThat(load.estimateNanos(0, tau, fleet)).isEqualTo(200e6);

    // 10 s later the estimate keeps 1/e of its weight, the rest is half the typical latency; a
    // lower sample then takes the aged-away weight instead.
    long tenSeconds = Duration.ofSeconds(10).toNanos();
    double w = Math.exp(-1);
    assertThat(load.estimateNanos(tenSeconds, tau, fleet))
        .isCloseTo(200e6 * w + 1e6 * (1 - w), within(1.0));
    load.observe(Duration.ofMillis(10).toNanos(), tenSeconds, 0, tau, fleet);
    double expected = 200e6 * w + 10e6 * (1 - w);
    assertThat(load.estimateNanos(tenSeconds, tau, fleet)).isCloseTo(expected, within(1.0));
    assertThat(load.cost(2 * tenSeconds, tau, fleet))
        .isCloseTo(expected * w + 1e6 * (1 - w), within(1.0));
  }

  @Test
  void endpointLoad_estimateNobodyRefreshes_agesWithTheFleetsSamples() {
    double tau = Duration.ofSeconds(10).toNanos();
    FleetLatency fleet = new FleetLatency(30e6);
    fleet.endpoints(3);
    PeakEwmaLoad cold = new PeakEwmaLoad(Duration.ofMillis(30).toNanos(), 0);
    cold.observe(25_000_000, 0, fleet.record(25e6, true), tau, fleet); // a cold JVM's first RPC

    // 16 rounds of 3 samples by its peers, no time passing: 1/e of its weight is left. The
    // typical is the geometric mean of the 49 samples (each counts fully up to 64).
    for (int i = 0; i < 48; i++) {
      fleet.record(400_000, true);
    }

    double w = Math.exp(-1);
    assertThat(fleet.typicalNanos()).isCloseTo(400_000 * Math.pow(62.5, 1.0 / 49), within(1.0));
    assertThat(cold.estimateNanos(0, tau, fleet))
        .isCloseTo(25e6 * w + fleet.typicalNanos() / 2 * (1 - w), within(1.0));
  }

  private static org.assertj.core.data.Offset<Double> within(double offset) {
    return org.assertj.core.data.Offset.offset(offset);
  }
}
