package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.READY;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.ClientStreamTracer;
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
      balancer = new PeakEwmaLoadBalancer(helper, clock.ticker(), new Random(3)::nextInt, prober);
      config = PeakEwmaConfig.parse(raw);
    } else {
      balancer = new KubeRoundRobinLoadBalancer(helper, bound -> 0, prober);
      config = KubeRoundRobinConfig.parse(raw);
    }
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(KubeRoundRobinLoadBalancerTest.endpoints(0, endpoints))
                    .setLoadBalancingPolicyConfig(config)
                    .build()));
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));
  }

  private Subchannel sub(int i) {
    return helper.subchannelFor(KubeRoundRobinLoadBalancerTest.endpoint(i));
  }

  /** Subchannels the current picker picks from. */
  private Set<Subchannel> inRotation() {
    LoadBalancer.SubchannelPicker picker = helper.picker();
    return new HashSet<>(
        picker instanceof PeakEwmaLoadBalancer.Picker
            ? ((PeakEwmaLoadBalancer.Picker) picker).subchannels()
            : ((KubeRoundRobinLoadBalancer.Picker) picker).subchannels());
  }

  /**
   * Completes one unary RPC on {@code subchannel} with {@code status}, through the tracer its
   * endpoint had in the first picker (tracers of any picker record into the same endpoint; picking
   * it now could take long, as peak_ewma avoids a failing endpoint).
   */
  private void rpcOn(Subchannel subchannel, Status status) {
    if (factories.isEmpty()) {
      for (int i = 0; i < 1000; i++) {
        PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
        factories.putIfAbsent(result.getSubchannel(), result.getStreamTracerFactory());
      }
    }
    ClientStreamTracer.Factory factory = factories.get(subchannel);
    if (factory == null) {
      return; // no tracer: outlier ejection is off (kube_round_robin)
    }
    ClientStreamTracer tracer =
        factory.newClientStreamTracer(
            ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata());
    tracer.outboundHeaders();
    if (status.isOk()) {
      tracer.inboundMessage(0);
    }
    tracer.streamClosed(status);
    helper.run(() -> {}); // lets a triggered ejection run in the context
  }

  private final Map<Subchannel, ClientStreamTracer.Factory> factories = new HashMap<>();

  private void fail(Subchannel subchannel, int times) {
    for (int i = 0; i < times; i++) {
      rpcOn(subchannel, Status.UNAVAILABLE);
    }
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
    fail(sub(2), 5);
    clock.forward(Duration.ofSeconds(1));
    helper.run(() -> probes.get(0).answer().accept(true));

    fail(sub(2), 5); // second time: 2 s
    clock.forward(Duration.ofMillis(1999));
    assertThat(probes).hasSize(1);
    clock.forward(Duration.ofMillis(1));
    assertThat(probes).hasSize(2);
    helper.run(() -> probes.get(1).answer().accept(true));

    // Two quiet intervals (at 10 s and 20 s) bring the count from 2 to 0: back to 1 s.
    clock.forward(Duration.ofSeconds(17));
    fail(sub(2), 5);
    clock.forward(Duration.ofSeconds(1));
    assertThat(probes).hasSize(3);
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
    start(policy, 5, Map.of("consecutiveFailures", 1000.0, "successRateRequestVolume", 20.0));
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
}
