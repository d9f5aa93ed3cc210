package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.CallOptions;
import io.grpc.ClientStreamTracer;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Outlier ejection, the same for both policies, timed exactly on the fake clock. */
class OutlierEjectionTest {
  private final FakeHelper helper = new FakeHelper();
  private final FakeClock clock = helper.clock();
  private final List<Probe> probes = new ArrayList<>();
  private LoadBalancer balancer;
  private String policy;

  /** A probe the test answers. */
  private record Probe(Subchannel subchannel, long timeoutNanos, Consumer<Boolean> answer) {}

  @AfterEach
  void noErrorsInSyncContext() {
    helper.checkNoErrors();
  }

  private void start(String policy, int endpoints, Map<String, ?> outlierEjection) {
    this.policy = policy;
    OutlierEjection.Prober prober =
        (sc, timeout, answer) -> probes.add(new Probe(sc, timeout, answer));
    Map<String, Object> raw = new LinkedHashMap<>();
    raw.put("outlierEjection", outlierEjection);
    Object config;
    if (policy.equals("peak_ewma")) {
      balancer = PeakEwmaPolicy.balancer(helper, clock.ticker(), new Random(3)::nextInt, prober);
      config = PeakEwmaConfig.parse(raw);
    } else {
      balancer = KubeRoundRobinPolicy.balancer(helper, bound -> 0, clock.ticker(), prober);
      config = KubeRoundRobinConfig.parse(raw);
    }
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(EndpointGroups.endpoints(0, endpoints))
                    .setLoadBalancingPolicyConfig(config)
                    .build()));
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));
  }

  private Subchannel sub(int i) {
    return helper.subchannelFor(EndpointGroups.endpoint(i));
  }

  /** Subchannels the current picker picks from. */
  private Set<Subchannel> inRotation() {
    LoadBalancer.SubchannelPicker picker = helper.picker();
    return new HashSet<>(
        picker instanceof PeakEwmaPicker
            ? ((PeakEwmaPicker) picker).subchannels()
            : ((KubeRoundRobinPolicy.Picker) picker).subchannels());
  }

  /**
   * Completes one unary RPC on {@code subchannel} with {@code status}, through the tracer its
   * endpoint had in the first picker (tracers of any picker record into the same endpoint; picking
   * it now could take long, as peak_ewma avoids a failing endpoint).
   */
  private void rpcOn(Subchannel subchannel, Status status) {
    ClientStreamTracer tracer = startOn(subchannel);
    if (tracer == null) {
      return; // no tracer: outlier ejection is off (kube_round_robin)
    }
    if (status.isOk()) {
      tracer.inboundMessage(0);
    }
    tracer.streamClosed(status);
    helper.run(() -> {}); // lets a triggered ejection run in the context
  }

  /** Completes one unary RPC on {@code subchannel} after {@code latency} of fake time. */
  private void rpcOn(Subchannel subchannel, Status status, Duration latency) {
    ClientStreamTracer tracer = startOn(subchannel);
    clock.forward(latency);
    if (status.isOk()) {
      tracer.inboundMessage(0);
    }
    tracer.streamClosed(status);
    helper.run(() -> {});
  }

  private ClientStreamTracer startOn(Subchannel subchannel) {
    return startOn(subchannel, CallOptions.DEFAULT);
  }

  /** Creates the tracer of an attempt, as grpc-java does, without sending its headers. */
  private ClientStreamTracer tracerOn(Subchannel subchannel, CallOptions options) {
    factoryOf(subchannel);
    return factories
        .get(subchannel)
        .newClientStreamTracer(
            ClientStreamTracer.StreamInfo.newBuilder().setCallOptions(options).build(),
            new Metadata());
  }

  private ClientStreamTracer.Factory factoryOf(Subchannel subchannel) {
    if (factories.isEmpty()) {
      for (int i = 0; i < 1000; i++) {
        PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
        factories.putIfAbsent(result.getSubchannel(), result.getStreamTracerFactory());
      }
    }
    return factories.get(subchannel);
  }

  private ClientStreamTracer startOn(Subchannel subchannel, CallOptions options) {
    ClientStreamTracer.Factory factory = factoryOf(subchannel);
    if (factory == null) {
      return null;
    }
    ClientStreamTracer tracer =
        factory.newClientStreamTracer(
            ClientStreamTracer.StreamInfo.newBuilder().setCallOptions(options).build(),
            new Metadata());
    tracer.outboundHeaders();
    return tracer;
  }

  private final Map<Subchannel, ClientStreamTracer.Factory> factories = new HashMap<>();

  /** Five failures eject {@code subchannel} for 1 s; its probe then answers. */
  private void ejectOnceAndReadmit(Subchannel subchannel) {
    fail(subchannel, 5);
    clock.forward(Duration.ofSeconds(1));
    helper.run(() -> probes.get(probes.size() - 1).answer().accept(true));
  }

  private void succeed(Subchannel subchannel, int times) {
    for (int i = 0; i < times; i++) {
      rpcOn(subchannel, Status.OK);
    }
  }

  private void fail(Subchannel subchannel, int times) {
    for (int i = 0; i < times; i++) {
      rpcOn(subchannel, Status.UNAVAILABLE);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void ejectionOffAndBackOnWithTheSameConfig_endpointDownMeanwhile_itsRpcsFeedItsCurrentCounts(
      String policy) {
    start(policy, 3, Map.of()); // the policy's default config instance: ejection on
    helper.subchannelFor(EndpointGroups.endpoint(0)).deliver(TRANSIENT_FAILURE);
    acceptConfig(policy, Map.of("enabled", false));
    acceptConfig(policy, null); // the same default instance as at first
    helper.subchannelFor(EndpointGroups.endpoint(0)).deliver(READY);

    ClientStreamTracer.Factory current = currentFactoryOf(sub(0));
    for (int i = 0; i < 2; i++) {
      ClientStreamTracer tracer =
          current.newClientStreamTracer(
              ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata());
      tracer.outboundHeaders();
      tracer.inboundHeaders();
      tracer.streamClosed(Status.INTERNAL);
    }

    EndpointSetLoadBalancer<?> balancer = (EndpointSetLoadBalancer<?>) this.balancer;
    assertThat(balancer.outlierEjection().outcomes(balancer.endpointFor(sub(0))).streak())
        .as("failures counted where ejection reads them")
        .isEqualTo(2);
  }

  /** Accepts the same endpoints with {@code outlierEjection} as the section (null: no config). */
  private void acceptConfig(String policy, Map<String, ?> outlierEjection) {
    Object config = null;
    if (outlierEjection != null) {
      Map<String, ?> raw = Map.of("outlierEjection", outlierEjection);
      config =
          policy.equals("peak_ewma") ? PeakEwmaConfig.parse(raw) : KubeRoundRobinConfig.parse(raw);
    }
    Object parsed = config;
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(EndpointGroups.endpoints(0, 3))
                    .setLoadBalancingPolicyConfig(parsed)
                    .build()));
  }

  /** The tracer factory the current picker's unary picks of {@code subchannel} carry. */
  private ClientStreamTracer.Factory currentFactoryOf(Subchannel subchannel) {
    for (int i = 0; i < 10_000; i++) {
      PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
      if (result.getSubchannel() == subchannel) {
        return result.getStreamTracerFactory();
      }
    }
    throw new AssertionError("no pick of " + subchannel + " in 10,000 picks");
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void fiveConsecutiveFailures_ejectAtOnce_probeAfter1s_readmittedWhenItAnswers(String policy) {
    start(policy, 4, Map.of());
    fail(sub(1), 4);
    rpcOn(sub(1), Status.OK); // the streak is broken
    fail(sub(1), 4);
    assertThat(inRotation()).contains(sub(1));

    fail(sub(1), 1);

    assertThat(inRotation()).doesNotContain(sub(1)).hasSize(3);
    clock.forward(Duration.ofMillis(999));
    assertThat(probes).isEmpty();
    clock.forward(Duration.ofMillis(1));
    assertThat(probes).hasSize(1);
    assertThat(probes.get(0).subchannel()).isSameAs(sub(1));
    assertThat(probes.get(0).timeoutNanos()).isEqualTo(1_000_000_000L);
    assertThat(inRotation()).doesNotContain(sub(1));

    helper.run(() -> probes.get(0).answer().accept(true));

    assertThat(inRotation()).contains(sub(1)).hasSize(4);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void oneTimeout_whileTheEndpointAnsweredNothingSinceItStarted_isOneFailure_notAnEjection(
      String policy) {
    start(policy, 4, Map.of());
    rpcOn(sub(3), Status.OK);
    clock.forward(Duration.ofMillis(1));
    ClientStreamTracer lost = startOn(sub(3));
    clock.forward(Duration.ofMillis(200));

    lost.streamClosed(Status.DEADLINE_EXCEEDED);
    helper.run(() -> {});

    assertThat(inRotation()).contains(sub(3));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void oneTimeout_whileTheEndpointAnsweredOthers_isOneFailureOfAStreak(String policy) {
    start(policy, 4, Map.of());
    ClientStreamTracer slow = startOn(sub(3));
    clock.forward(Duration.ofMillis(500));
    rpcOn(sub(3), Status.OK); // answered in the meantime: slow, not unresponsive
    clock.forward(Duration.ofMillis(500));

    slow.streamClosed(Status.DEADLINE_EXCEEDED);
    helper.run(() -> {});

    assertThat(inRotation()).contains(sub(3));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void unansweredProbe_staysEjected_probedAgainEveryProbeTimeout(String policy) {
    start(policy, 4, Map.of("probeTimeout", "0.5s"));
    fail(sub(0), 5);
    clock.forward(Duration.ofSeconds(1));
    assertThat(probes).hasSize(1);

    helper.run(() -> probes.get(0).answer().accept(false));
    clock.forward(Duration.ofMillis(499));
    assertThat(probes).hasSize(1);
    clock.forward(Duration.ofMillis(1));

    assertThat(probes).hasSize(2);
    assertThat(inRotation()).doesNotContain(sub(0));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void ejectedAgain_staysOutLonger_andTheCountFallsPerQuietInterval(String policy) {
    start(policy, 4, Map.of("interval", "10s"));
    ejectOnceAndReadmit(sub(2));

    fail(sub(2), 5); // second time: 2 s
    clock.forward(Duration.ofMillis(1999));
    assertThat(probes).hasSize(1);
    clock.forward(Duration.ofMillis(1));
    assertThat(probes).hasSize(2);
    helper.run(() -> probes.get(1).answer().accept(true));
    succeed(sub(2), 5); // real successes end its probation

    // Two quiet intervals (at 10 s and 20 s) bring the count from 2 to 0: back to 1 s.
    clock.forward(Duration.ofSeconds(17));
    fail(sub(2), 5);
    clock.forward(Duration.ofSeconds(1));
    assertThat(probes).hasSize(3);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void ejectionOffAndBackOn_timesEjectedStillCount(String policy) {
    start(policy, 4, Map.of("interval", "10s"));
    ejectOnceAndReadmit(sub(2));
    succeed(sub(2), 5); // real successes end its probation

    acceptConfig(policy, Map.of("enabled", false));
    acceptConfig(policy, Map.of("interval", "10s"));
    fail(sub(2), 5); // second time: 2 s, as if ejection had stayed on

    clock.forward(Duration.ofMillis(1999));
    assertThat(probes).hasSize(1);
    clock.forward(Duration.ofMillis(1));
    assertThat(probes).hasSize(2);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void panicThreshold_fourOfFiveFailing_atMostHalfEjected(String policy) {
    start(policy, 5, Map.of());
    for (int i = 1; i < 5; i++) {
      fail(sub(i), 5);
    }

    Set<Subchannel> rotation = inRotation();

    assertThat(rotation).hasSize(3).contains(sub(0)); // floor(5 x 50 %) = 2 out
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void successRateOutlier_ejectedAtTheInterval(String policy) {
    start(
        policy,
        5,
        Map.of("consecutiveFailures", 1000.0, "successRateRequestVolume", 20.0, "interval", "10s"));
    for (int round = 0; round < 40; round++) {
      for (int i = 0; i < 5; i++) {
        rpcOn(sub(i), i == 3 && round % 2 == 0 ? Status.INTERNAL : Status.OK);
      }
    }
    clock.forward(Duration.ofMillis(9999));
    assertThat(inRotation()).contains(sub(3));

    clock.forward(Duration.ofMillis(1));

    assertThat(inRotation()).doesNotContain(sub(3)).hasSize(4);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void disabled_neverEjects(String policy) {
    start(policy, 3, Map.of("enabled", false));
    fail(sub(1), 50);

    if (policy.equals("kube_round_robin")) {
      assertThat(inRotation()).contains(sub(1));
      assertThat(helper.picker().pickSubchannel(PickArgs.UNARY).getStreamTracerFactory()).isNull();
    }
    clock.forward(Duration.ofMinutes(1));
    assertThat(probes).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void applicationErrorsAndClientCancels_neverEject(String policy) {
    start(policy, 3, Map.of());
    for (int i = 0; i < 20; i++) {
      rpcOn(sub(1), Status.NOT_FOUND);
      rpcOn(sub(1), Status.CANCELLED);
    }
    assertThat(inRotation()).contains(sub(1));
  }

  private Deadline.Ticker fakeTicker() {
    return new Deadline.Ticker() {
      @Override
      public long nanoTime() {
        return clock.nanoTime();
      }
    };
  }

  /** An attempt started inside a Context whose deadline is 200 ms away, as in a server handler. */
  private ClientStreamTracer startInContextWithDeadline(Subchannel subchannel) {
    Context context =
        Context.current()
            .withDeadline(
                Deadline.after(200, TimeUnit.MILLISECONDS, fakeTicker()), clock.scheduler());
    Context previous = context.attach();
    try {
      return startOn(subchannel, CallOptions.DEFAULT);
    } finally {
      context.detach(previous);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void contextDeadline_attemptsCancelledPastIt_countAsTimeouts_hungEndpointEjected(String policy) {
    start(policy, 4, Map.of());
    for (int i = 0; i < 5; i++) {
      rpcOn(sub(0), Status.OK);
      ClientStreamTracer hung = startInContextWithDeadline(sub(1));
      clock.forward(Duration.ofMillis(201));
      // With retries on (grpc-java's default) the expired attempt ends CANCELLED.
      hung.streamClosed(
          Status.CANCELLED.withDescription("Stream thrown away because RetriableStream committed"));
      helper.run(() -> {});
    }

    assertThat(inRotation()).doesNotContain(sub(1)).hasSize(3);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void callOptionsDeadline_attemptsCancelledPastIt_countAsTimeouts_hungEndpointEjected(
      String policy) {
    start(policy, 4, Map.of());
    for (int i = 0; i < 5; i++) {
      rpcOn(sub(0), Status.OK);
      ClientStreamTracer hung =
          startOn(
              sub(1),
              CallOptions.DEFAULT.withDeadline(
                  Deadline.after(200, TimeUnit.MILLISECONDS, fakeTicker())));
      clock.forward(Duration.ofMillis(201));
      hung.streamClosed(Status.CANCELLED);
      helper.run(() -> {});
    }

    assertThat(inRotation()).doesNotContain(sub(1)).hasSize(3);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void hungEndpoint_noDeadline_everyRpcUnansweredFor1s_ejected(String policy) {
    start(policy, 4, Map.of());
    ClientStreamTracer hung = startOn(sub(2)); // never answered
    for (int ms = 0; ms < 900; ms += 10) {
      for (int i : new int[] {0, 1, 3}) {
        rpcOn(sub(i), Status.OK, Duration.ofMillis(1));
      }
      clock.forward(Duration.ofMillis(7));
    }
    assertThat(inRotation()).contains(sub(2));

    clock.forward(Duration.ofMillis(400)); // past 1 s and the next check

    assertThat(inRotation()).doesNotContain(sub(2)).hasSize(3);
    assertThat(hung).isNotNull();
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void rpcCancelledByTheClientBeforeAnAnswer_leavesNoSilence_notEjected(String policy) {
    start(policy, 3, Map.of());
    ClientStreamTracer cancelled = startOn(sub(2));
    clock.forward(Duration.ofMillis(5));
    cancelled.streamClosed(Status.CANCELLED); // the caller gave up, long before any deadline
    helper.run(() -> {});
    for (int ms = 0; ms < 2_000; ms += 10) {
      for (int i : new int[] {0, 1}) {
        rpcOn(sub(i), Status.OK, Duration.ofMillis(1));
      }
      clock.forward(Duration.ofMillis(8));
    }

    assertThat(inRotation()).contains(sub(2)).hasSize(3);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void silenceSharedByMostEndpoints_isTheNetworkOrTheClient_noneEjected(String policy) {
    start(policy, 10, Map.of());
    for (int i = 0; i < 10; i++) {
      startOn(sub(i)); // one RPC each, all unanswered: a client-side blip or a long GC pause
    }

    clock.forward(Duration.ofSeconds(5));

    assertThat(inRotation()).hasSize(10);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void networkBlip_everyEndpointTimesOutTogether_noneEjected(String policy) {
    start(policy, 10, Map.of());
    for (int round = 0; round < 6; round++) {
      List<ClientStreamTracer> inFlight = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        inFlight.add(startOn(sub(i)));
      }
      clock.forward(Duration.ofMillis(200));
      for (ClientStreamTracer tracer : inFlight) {
        tracer.streamClosed(Status.DEADLINE_EXCEEDED);
      }
      helper.run(() -> {});
      assertThat(inRotation()).as("round %s", round).hasSize(10);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void clientBlip_endpointStillReconnectingWhenItsPeersAnswer_notEjectedForTheLostConnection(
      String policy) {
    // FleetChaos seed 64: the client's network dropped every connection; the peers' reconnect
    // backoff ended first and they answered again, while one endpoint was still reconnecting. Its
    // silence was its lost connection's, yet it was ejected for 1-2 s and got no RPC once READY.
    start(policy, 4, Map.of());
    List<ClientStreamTracer> inFlight = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      inFlight.add(startOn(sub(i)));
    }
    clock.forward(Duration.ofMillis(5));
    for (ClientStreamTracer tracer : inFlight) {
      tracer.streamClosed(Status.UNAVAILABLE.withDescription("connection lost"));
    }
    helper.createdSubchannels().forEach(sc -> sc.deliver(TRANSIENT_FAILURE));
    clock.forward(Duration.ofMillis(800)); // one reconnect backoff
    for (int i : new int[] {0, 1, 3}) {
      helper.subchannelFor(EndpointGroups.endpoint(i)).deliver(READY);
    }
    for (int ms = 0; ms < 500; ms += 10) { // past 1 s since the blip, and the next check
      for (int i : new int[] {0, 1, 3}) {
        rpcOn(sub(i), Status.OK, Duration.ofMillis(1));
      }
      clock.forward(Duration.ofMillis(7));
    }

    helper.subchannelFor(EndpointGroups.endpoint(2)).deliver(READY); // its backoff was longer

    assertThat(inRotation()).contains(sub(2)).hasSize(4);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void attemptsThatNeverReachedTheEndpoint_recordNothing(String policy) {
    start(policy, 4, Map.of());
    for (int i = 0; i < 10; i++) {
      // Never sent: a pick on a transport already shut down (MISCARRIED), a drop.
      tracerOn(sub(1), CallOptions.DEFAULT).streamClosed(Status.UNAVAILABLE);
      // Sent, then refused by the server's graceful GOAWAY and retried transparently.
      ClientStreamTracer refused = startOn(sub(1));
      refused.streamClosed(
          Status.UNAVAILABLE.withDescription(
              "Abrupt GOAWAY closed sent stream. HTTP/2 error code: NO_ERROR"));
      helper.run(() -> {});
    }

    assertThat(inRotation()).contains(sub(1)).hasSize(4);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void resourceExhausted_isNotAnEjectionFailure_byDefault(String policy) {
    start(policy, 4, Map.of());
    for (int i = 0; i < 20; i++) {
      rpcOn(sub(1), Status.RESOURCE_EXHAUSTED);
    }

    assertThat(inRotation()).contains(sub(1));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void configuredFailureCodes_onlyThoseEject(String policy) {
    start(policy, 4, Map.of("failureStatusCodes", List.of("INTERNAL")));
    fail(sub(1), 20); // UNAVAILABLE
    assertThat(inRotation()).contains(sub(1));

    for (int i = 0; i < 5; i++) {
      rpcOn(sub(1), Status.INTERNAL);
    }

    assertThat(inRotation()).doesNotContain(sub(1));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void readmittedOnProbation_firstFailureEjectsAgainAtOnce_forLonger(String policy) {
    start(policy, 4, Map.of());
    fail(sub(1), 5);
    clock.forward(Duration.ofSeconds(1));
    helper.run(() -> probes.get(0).answer().accept(true)); // UNIMPLEMENTED answers too
    assertThat(inRotation()).contains(sub(1));

    fail(sub(1), 1);

    assertThat(inRotation()).doesNotContain(sub(1));
    clock.forward(Duration.ofMillis(1999));
    assertThat(probes).hasSize(1);
    clock.forward(Duration.ofMillis(1));
    assertThat(probes).hasSize(2);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void readmitted_asManySuccessesInARowAsTheStreak_endProbation(String policy) {
    start(policy, 4, Map.of("interval", "10s"));
    fail(sub(1), 5);
    clock.forward(Duration.ofSeconds(1));
    helper.run(() -> probes.get(0).answer().accept(true));

    for (int i = 0; i < 4; i++) {
      rpcOn(sub(1), Status.OK);
    }
    fail(sub(1), 1);
    assertThat(inRotation()).as("four successes: still on probation").doesNotContain(sub(1));
    clock.forward(Duration.ofSeconds(2));
    helper.run(() -> probes.get(1).answer().accept(true));
    for (int i = 0; i < 5; i++) {
      rpcOn(sub(1), Status.OK);
    }
    fail(sub(1), 4);

    assertThat(inRotation()).contains(sub(1));
  }

  @org.junit.jupiter.api.Test
  void peakEwma_readmittedEndpoint_isPickedForItsTrial_despiteItsFailurePenalty() {
    start("peak_ewma", 4, Map.of());
    for (int round = 0; round < 50; round++) {
      for (int i = 0; i < 4; i++) {
        rpcOn(sub(i), i == 1 ? Status.UNIMPLEMENTED : Status.OK, Duration.ofMillis(1));
      }
    }
    assertThat(inRotation()).doesNotContain(sub(1));
    clock.forward(Duration.ofSeconds(1));
    helper.run(() -> probes.get(0).answer().accept(true));

    int picked = 0;
    for (int i = 0; i < 100; i++) {
      picked += helper.picker().pickSubchannel(PickArgs.UNARY).getSubchannel() == sub(1) ? 1 : 0;
    }

    assertThat(picked).isPositive();
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void slowEndpoint_over2_5xTheFleetMedian_ejectedAtTheInterval(String policy) {
    start(policy, 6, Map.of("interval", "10s"));
    for (int round = 0; round < 40; round++) {
      for (int i = 0; i < 6; i++) {
        rpcOn(sub(i), Status.OK, Duration.ofMillis(i == 4 ? 20 : 2));
      }
    }
    assertThat(inRotation()).contains(sub(4));

    clock.forward(Duration.ofSeconds(10));

    assertThat(inRotation()).doesNotContain(sub(4)).hasSize(5);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void slowEndpoint_readmitted_firstSuccessAsSlow_ejectedAgainAtOnce_forLonger(String policy) {
    start(policy, 6, Map.of("interval", "10s"));
    for (int round = 0; round < 40; round++) {
      for (int i = 0; i < 6; i++) {
        rpcOn(sub(i), Status.OK, Duration.ofMillis(i == 4 ? 20 : 2));
      }
    }
    clock.forward(Duration.ofSeconds(10));
    assertThat(inRotation()).doesNotContain(sub(4));
    clock.forward(Duration.ofSeconds(1));
    helper.run(() -> probes.get(0).answer().accept(true)); // a slow pod answers its probe
    assertThat(inRotation()).contains(sub(4));

    rpcOn(sub(4), Status.OK, Duration.ofMillis(20));

    assertThat(inRotation()).doesNotContain(sub(4));
    clock.forward(Duration.ofMillis(1999));
    assertThat(probes).hasSize(1);
    clock.forward(Duration.ofMillis(1));
    assertThat(probes).hasSize(2);
    helper.run(() -> probes.get(1).answer().accept(true));
    for (int i = 0; i < 5; i++) {
      rpcOn(sub(4), Status.OK, Duration.ofMillis(2)); // recovered: as fast as its peers
    }
    rpcOn(sub(4), Status.OK, Duration.ofMillis(20));
    assertThat(inRotation()).as("probation over: one slow RPC is no ejection").contains(sub(4));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void slowEndpoints_ejectedWithinTheCap(String policy) {
    start(policy, 6, Map.of("interval", "10s"));
    for (int round = 0; round < 40; round++) {
      for (int i = 0; i < 6; i++) {
        rpcOn(sub(i), Status.OK, Duration.ofMillis(i < 2 ? 30 : 2));
      }
    }

    clock.forward(Duration.ofSeconds(10));

    assertThat(inRotation()).hasSize(4).doesNotContain(sub(0), sub(1));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void successRate_threeFailuresIn100AmongPerfectPeers_isNoise_notEjected(String policy) {
    start(policy, 5, Map.of("interval", "10s"));
    for (int round = 0; round < 100; round++) {
      for (int i = 0; i < 5; i++) {
        rpcOn(sub(i), i == 2 && round % 40 == 0 ? Status.UNAVAILABLE : Status.OK);
      }
    }

    clock.forward(Duration.ofSeconds(10));

    assertThat(inRotation()).hasSize(5);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void endpointFailing40PercentWithoutStreaks_ejectedWithinASecond(String policy) {
    start(policy, 5, Map.of());
    for (int round = 0; round < 150; round++) {
      for (int i = 0; i < 5; i++) {
        // 40 %, never three in a row: a streak of five never comes.
        boolean failing = i == 2 && (round % 5 == 0 || round % 5 == 2);
        rpcOn(sub(i), failing ? Status.UNAVAILABLE : Status.OK, Duration.ofMillis(1));
      }
    }
    // 750 ms of RPCs; the next interval evaluation (at 1 s) catches it.

    clock.forward(Duration.ofMillis(300));

    assertThat(inRotation()).doesNotContain(sub(2));
  }

  @org.junit.jupiter.api.Test
  void peakEwma_attemptsThatNeverReachedTheEndpoint_addNoLatencySample() {
    start("peak_ewma", 2, Map.of());
    rpcOn(sub(0), Status.OK, Duration.ofMillis(2));
    PeakEwmaLoad load =
        ((PeakEwmaLoad) ((EndpointSetLoadBalancer<?>) balancer).policyStateOf(sub(0)));

    tracerOn(sub(0), CallOptions.DEFAULT).streamClosed(Status.UNAVAILABLE); // never sent
    ClientStreamTracer refused = startOn(sub(0));
    clock.forward(Duration.ofMillis(1));
    refused.streamClosed(
        Status.UNAVAILABLE.withDescription(
            "Abrupt GOAWAY closed sent stream. HTTP/2 error code: NO_ERROR"));

    // Recorded as failures, each was a 1 s penalty sample: 2 ms -> 1 s.
    assertThat(
            load.estimateNanos(
                clock.nanoTime(),
                1e10,
                ((PeakEwmaPolicy) ((EndpointSetLoadBalancer<?>) balancer).policy()).fleet()))
        .isLessThan(10e6);
  }
}
