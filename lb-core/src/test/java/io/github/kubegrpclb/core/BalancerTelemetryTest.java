package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.PickArgs;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.github.kubegrpclb.testing.TestMetrics;
import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ClientStreamTracer;
import io.grpc.ConnectivityState;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The balancer instruments read back through a real OpenTelemetry SDK, over a real channel and real
 * gRPC servers on loopback addresses.
 */
class BalancerTelemetryTest {
  private static final String TARGET = "manual:///pods";
  private static final String STARTED = "kube_grpc_lb.endpoint.rpcs.started";
  private static final String FINISHED = "kube_grpc_lb.endpoint.rpcs.finished";
  private static final String ACTIVE = "kube_grpc_lb.endpoint.rpcs.active";
  private static final String ESTIMATE = "kube_grpc_lb.endpoint.latency.estimate";

  private static final Map<String, ?> NO_EJECTION_ROUND_ROBIN =
      Map.of(
          "loadBalancingConfig",
          List.of(Map.of("kube_round_robin", Map.of("outlierEjection", Map.of("enabled", false)))));

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private final TestMetrics metrics = cleanup.add(new TestMetrics());

  private LoopbackPods pods(int count) {
    return cleanup.add(LoopbackPods.start(count));
  }

  private ManagedChannel channel(LoopbackPods pods, String policy, LbTelemetry telemetry) {
    return channel(pods, ServiceConfigs.policy(policy), telemetry);
  }

  private ManagedChannel channel(
      LoopbackPods pods, Map<String, ?> serviceConfig, LbTelemetry telemetry) {
    ManualNameResolverProvider resolver = new ManualNameResolverProvider(pods.addressGroups());
    resolver.update(
        pods.addressGroups(),
        Attributes.newBuilder().set(LbTelemetry.ATTRIBUTE, telemetry).build());
    return cleanup.channel(resolver.channelBuilder().defaultServiceConfig(serviceConfig).build());
  }

  private static Map<String, String> pod(LoopbackPod pod) {
    return Map.of(
        "endpoint", pod.address().getAddress().getHostAddress() + ":" + pod.address().getPort());
  }

  @Test
  void kubeRoundRobin_300Rpcs_eachEndpointCounts100_failuresByStatus() {
    LoopbackPods pods = pods(3);
    pods.get(1).setFailurePercent(100);
    ManagedChannel channel =
        channel(pods, NO_EJECTION_ROUND_ROBIN, LbTelemetry.create(metrics.openTelemetry()));
    connectAll(channel, 3);
    Map<String, Double> started = perPod(pods, STARTED, Map.of());
    Map<String, Double> failed = perPod(pods, FINISHED, Map.of("grpc.status", "UNAVAILABLE"));
    Map<String, Double> ok = perPod(pods, FINISHED, Map.of("grpc.status", "OK"));

    RpcLoad.Result result = RpcLoad.run(channel, 300, 1, CallOptions.DEFAULT);

    assertThat(result.failures()).isEqualTo(100);
    for (LoopbackPod pod : pods.all()) {
      assertThat(delta(pod, STARTED, Map.of(), started)).as("%s", pod).isEqualTo(100);
      assertThat(metrics.sum(ACTIVE, pod(pod))).as("%s", pod).isZero();
    }
    assertThat(delta(pods.get(1), FINISHED, Map.of("grpc.status", "UNAVAILABLE"), failed))
        .isEqualTo(100);
    assertThat(delta(pods.get(0), FINISHED, Map.of("grpc.status", "UNAVAILABLE"), failed)).isZero();
    assertThat(delta(pods.get(0), FINISHED, Map.of("grpc.status", "OK"), ok)).isEqualTo(100);
    assertThat(metrics.sum(STARTED, Map.of("target", TARGET, "policy", "kube_round_robin")))
        .isEqualTo(metrics.sum(FINISHED, Map.of("target", TARGET, "policy", "kube_round_robin")));
  }

  @Test
  void peakEwma_degradedPod_estimateRises_andItsRpcCounterStalls() {
    LoopbackPods pods = pods(3);
    LoopbackPod degraded = pods.get(0);
    // A 2 s decay, so the warm-up's slow first RPCs are forgotten within seconds of idling.
    Map<String, ?> config =
        Map.of("loadBalancingConfig", List.of(Map.of("peak_ewma", Map.of("decay", "2s"))));
    ManagedChannel channel = channel(pods, config, LbTelemetry.create(metrics.openTelemetry()));
    ChannelReadiness.awaitEveryPod(channel, pods);
    RpcLoad.Result warmUp = RpcLoad.run(channel, 300, 2, CallOptions.DEFAULT);
    assertThat(warmUp.failures()).as("%s", warmUp).isZero();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> metrics.sum(ESTIMATE, Map.of("target", TARGET)) < 0.010);
    double degradedBefore = metrics.sum(FINISHED, pod(degraded));
    // Both healthy pods together: peak_ewma may favour one of two equals for a while (a GC pause
    // on one raises its peak), which is not what this test is about.
    double healthyBefore =
        metrics.sum(FINISHED, pod(pods.get(1))) + metrics.sum(FINISHED, pod(pods.get(2)));

    degraded.setLatency(Duration.ofMillis(100));
    // The gauge is watched while the load runs: after its slow answer the pod's estimate peaks,
    // then decays (2 s) and ages toward the fleet's while it is not picked, so a read at the end
    // alone depends on how long 400 RPCs took (9.5 ms for a 100 ms pod once, under load).
    double[] degradedPeak = {0, 0}; // estimate, cost (estimate x (in flight + 1))
    RpcLoad.Result result;
    try (RpcLoad load = RpcLoad.start(channel, 2, CallOptions.DEFAULT)) {
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(5))
          .until(
              () -> {
                degradedPeak[0] = Math.max(degradedPeak[0], metrics.value(ESTIMATE, pod(degraded)));
                degradedPeak[1] =
                    Math.max(
                        degradedPeak[1],
                        metrics.value("kube_grpc_lb.endpoint.cost", pod(degraded)));
                // Until the pod's first slow answer is back (on a quiet machine 400 RPCs to the
                // others take less than its 100 ms) and 400 RPCs are done.
                return degradedPeak[0] > 0.030
                    && load.snapshot().succeeded() + load.snapshot().failures() >= 400;
              });
      result = load.snapshot();
    }

    assertThat(result.failures()).isZero();
    assertThat(degradedPeak[0])
        .as("the degraded pod's estimate at its peak (s)")
        .isGreaterThan(0.030);
    assertThat(degradedPeak[1]).as("the degraded pod's cost at its peak (s)").isGreaterThan(0.030);
    double degradedRpcs = metrics.sum(FINISHED, pod(degraded)) - degradedBefore;
    double healthyRpcs =
        metrics.sum(FINISHED, pod(pods.get(1)))
            + metrics.sum(FINISHED, pod(pods.get(2)))
            - healthyBefore;
    assertThat(degradedRpcs).as("degraded pod's RPCs; healthy pods %s", healthyRpcs).isLessThan(20);
    assertThat(healthyRpcs).isGreaterThan(0.95 * (healthyRpcs + degradedRpcs));
  }

  @Test
  void endpointsAndPickerUpdates_countedByStateAndRotation() {
    LoopbackPods pods = pods(3);
    ManagedChannel channel =
        channel(pods, "peak_ewma", LbTelemetry.create(metrics.openTelemetry()));
    ChannelReadiness.awaitEveryPod(channel, pods);
    assertThat(metrics.sum("kube_grpc_lb.endpoints", Map.of("state", "ready", "in_rotation", true)))
        .isEqualTo(3);

    pods.get(2).stop();

    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(
                        metrics.sum(
                            "kube_grpc_lb.endpoints",
                            Map.of("in_rotation", false, "condition", "ready")))
                    .isEqualTo(1));
    assertThat(metrics.sum("kube_grpc_lb.endpoints", Map.of("in_rotation", true))).isEqualTo(2);
    assertThat(metrics.sum("kube_grpc_lb.picker.updates", Map.of("state", "ready")))
        .isGreaterThanOrEqualTo(2);
    assertThat(metrics.value("kube_grpc_lb.endpoint.state", pod(pods.get(2)))).isEqualTo(1);
  }

  @Test
  void outlierEjection_failingPod_countedAsEjected_andShownInSnapshot() {
    LoopbackPods pods = pods(3);
    LoopbackPod failing = pods.get(1);
    failing.setFailurePercent(100);
    ManagedChannel channel =
        channel(pods, "kube_round_robin", LbTelemetry.create(metrics.openTelemetry()));
    connectAll(channel, 3);

    RpcLoad.run(channel, 60, 1, CallOptions.DEFAULT);

    assertThat(metrics.sum("kube_grpc_lb.endpoints", Map.of("ejected", true, "in_rotation", false)))
        .isEqualTo(1);
    assertThat(metrics.value("kube_grpc_lb.endpoint.state", pod(failing)))
        .as("one point, with ejected=true")
        .isEqualTo(1);
    assertThat(
            metrics.points(
                "kube_grpc_lb.endpoint.state", with(pod(failing), Map.of("ejected", "true"))))
        .hasSize(1);
    assertThat(metrics.sum(FINISHED, with(pod(failing), Map.of("grpc.status", "UNAVAILABLE"))))
        .as("5 consecutive failures eject it")
        .isEqualTo(5);
    assertThat(LbDebug.snapshot(TARGET))
        .contains(pod(failing).get("endpoint") + " READY ready zone=- out-of-rotation ejected");
  }

  @Test
  void endpointLimit1_oneEndpointOwnSeries_restCountedAsOther() {
    LoopbackPods pods = pods(3);
    ManagedChannel channel =
        channel(
            pods,
            NO_EJECTION_ROUND_ROBIN,
            LbTelemetry.create(metrics.openTelemetry()).withEndpointLimit(1));

    connectAll(channel, 3);
    double other = metrics.sum(STARTED, Map.of("endpoint", "_other"));
    double own = metrics.sum(STARTED, pod(pods.get(0)));

    RpcLoad.run(channel, 300, 1, CallOptions.DEFAULT);

    assertThat(metrics.sum(STARTED, Map.of("endpoint", "_other")) - other).isEqualTo(200);
    assertThat(metrics.sum(STARTED, pod(pods.get(0))) - own).isEqualTo(100);
    assertThat(metrics.points(STARTED, Map.of())).hasSize(2);
    assertThat(metrics.points("kube_grpc_lb.endpoint.state", Map.of())).hasSize(1);
  }

  @Test
  void tenRollouts_endpointLimit20_atMost20EndpointValuesEverExported_restAsOther() {
    LbTelemetry telemetry = LbTelemetry.create(metrics.openTelemetry()).withEndpointLimit(20);
    FakeHelper helper = new FakeHelper("rollouts");
    EndpointSetLoadBalancer<Void> balancer =
        KubeRoundRobinPolicy.balancer(helper, bound -> 0, System::nanoTime, (sc, t, cb) -> {});
    try {
      for (int rollout = 0; rollout < 10; rollout++) { // 10 new pods each time, 10 alive at once
        List<EquivalentAddressGroup> pods =
            EndpointGroups.endpoints(rollout * 10, rollout * 10 + 10);
        helper.run(
            () ->
                balancer.acceptResolvedAddresses(
                    LoadBalancer.ResolvedAddresses.newBuilder()
                        .setAddresses(pods)
                        .setAttributes(
                            Attributes.newBuilder().set(LbTelemetry.ATTRIBUTE, telemetry).build())
                        .setLoadBalancingPolicyConfig(KubeRoundRobinConfig.parse(Map.of()))
                        .build()));
        helper.liveSubchannels().forEach(sc -> sc.deliver(ConnectivityState.READY));
        for (int i = 0; i < 10; i++) { // one RPC each
          LoadBalancer.PickResult pick = helper.picker().pickSubchannel(PickArgs.UNARY);
          ClientStreamTracer tracer =
              pick.getStreamTracerFactory()
                  .newClientStreamTracer(
                      ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata());
          tracer.outboundHeaders();
          tracer.streamClosed(Status.OK);
        }
      }
      // The first rollout's pods come back (a rollback): they keep the series they had.
      helper.run(
          () ->
              balancer.acceptResolvedAddresses(
                  LoadBalancer.ResolvedAddresses.newBuilder()
                      .setAddresses(EndpointGroups.endpoints(0, 10))
                      .setAttributes(
                          Attributes.newBuilder().set(LbTelemetry.ATTRIBUTE, telemetry).build())
                      .setLoadBalancingPolicyConfig(KubeRoundRobinConfig.parse(Map.of()))
                      .build()));
      helper.liveSubchannels().forEach(sc -> sc.deliver(ConnectivityState.READY));
      assertThat(metrics.points("kube_grpc_lb.endpoint.state", Map.of("target", "rollouts")))
          .as("the rolled-back pods' own series")
          .hasSize(10)
          .noneMatch(point -> "_other".equals(endpointOf(point)));
    } finally {
      helper.run(balancer::shutdown);
    }

    java.util.Set<String> exported = new java.util.TreeSet<>();
    metrics
        .points(STARTED, Map.of("target", "rollouts"))
        .forEach(point -> exported.add(endpointOf(point)));
    assertThat(exported)
        .as("distinct endpoint values exported over 10 rollouts of 10 pods, limit 20")
        .hasSize(21)
        .contains("_other");
    assertThat(metrics.sum(STARTED, Map.of("target", "rollouts"))).isEqualTo(100);
  }

  private static String endpointOf(io.opentelemetry.sdk.metrics.data.PointData point) {
    return point
        .getAttributes()
        .get(io.opentelemetry.api.common.AttributeKey.stringKey("endpoint"));
  }

  @Test
  void endpointLimit0_noEndpointSeries_rpcsStillCounted() {
    LoopbackPods pods = pods(2);
    ManagedChannel channel =
        channel(
            pods, "peak_ewma", LbTelemetry.create(metrics.openTelemetry()).withEndpointLimit(0));

    ChannelReadiness.awaitEveryPod(channel, pods);
    double before = metrics.sum(STARTED, Map.of("endpoint", "_other"));

    RpcLoad.Result result = RpcLoad.run(channel, 50, 1, CallOptions.DEFAULT);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(metrics.sum(STARTED, Map.of("endpoint", "_other")) - before).isEqualTo(50);
    assertThat(metrics.points(STARTED, Map.of())).hasSize(1);
    assertThat(metrics.points(ESTIMATE, Map.of())).isEmpty();
    assertThat(metrics.sum("kube_grpc_lb.endpoints", Map.of("state", "ready"))).isEqualTo(2);
  }

  @Test
  void snapshot_showsEachEndpointsStateConditionCostAndFailure() {
    LoopbackPods pods = pods(3);
    LoopbackPod stopped = pods.get(2);
    ManagedChannel channel = channel(pods, "peak_ewma", LbTelemetry.disabled());
    ChannelReadiness.awaitEveryPod(channel, pods);
    RpcLoad.Result result = RpcLoad.run(channel, 100, 1, CallOptions.DEFAULT);
    assertThat(result.failures()).as("%s", result).isZero();
    stopped.stop();

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> LbDebug.snapshot(TARGET).contains("TRANSIENT_FAILURE"));

    String snapshot = LbDebug.snapshot(TARGET);
    assertThat(snapshot)
        .startsWith("peak_ewma balancer for " + TARGET + ": READY, 3 endpoints, 2 in rotation")
        .containsPattern(
            pod(pods.get(0)).get("endpoint")
                + " READY ready zone=- in-rotation in-flight=0 estimate=[0-9.]+ms cost=[0-9.]+ms")
        .contains(pod(stopped).get("endpoint") + " TRANSIENT_FAILURE ready zone=- out-of-rotation")
        .contains("last-failure=UNAVAILABLE");
    assertThat(snapshot.lines()).hasSize(4);
  }

  @Test
  void kubeRoundRobin_streamPicksCarryAStreamTracer_onlyWhenRecording() {
    assertThat(firstPick(LbTelemetry.disabled()).getStreamTracerFactory()).isNull();
    assertThat(firstPick(LbTelemetry.global()).getStreamTracerFactory())
        .as("GlobalOpenTelemetry not set: nothing to record to")
        .isNull();
    assertThat(firstPick(LbTelemetry.create(metrics.openTelemetry())).getStreamTracerFactory())
        .isNotNull();
  }

  @Test
  void pickers_describeTheirEndpoints_firstFewOnly() {
    FakeHelper helper = new FakeHelper();
    LoadBalancer balancer = PeakEwmaPolicy.balancer(helper, () -> 0L, bound -> 0);
    List<EquivalentAddressGroup> groups = new java.util.ArrayList<>();
    for (int i = 1; i <= 20; i++) {
      groups.add(new EquivalentAddressGroup(new InetSocketAddress("10.0.0." + i, 80)));
    }
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                LoadBalancer.ResolvedAddresses.newBuilder().setAddresses(groups).build()));
    helper.createdSubchannels().forEach(s -> s.deliver(ConnectivityState.READY));

    assertThat(helper.picker().toString())
        .isEqualTo(
            "peak_ewma picker over 20 endpoints [10.0.0.1:80, 10.0.0.2:80, 10.0.0.3:80,"
                + " 10.0.0.4:80, 10.0.0.5:80, 10.0.0.6:80, 10.0.0.7:80, 10.0.0.8:80, ... 12 more],"
                + " best of 2");
    helper.run(balancer::shutdown);
  }

  private static LoadBalancer.PickResult firstPick(LbTelemetry telemetry) {
    FakeHelper helper = new FakeHelper();
    LoadBalancer balancer = KubeRoundRobinPolicy.balancer(helper, bound -> 0);
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                LoadBalancer.ResolvedAddresses.newBuilder()
                    .setAddresses(
                        List.of(new EquivalentAddressGroup(new InetSocketAddress("10.0.0.1", 80))))
                    .setAttributes(
                        Attributes.newBuilder().set(LbTelemetry.ATTRIBUTE, telemetry).build())
                    .build()));
    helper.createdSubchannels().get(0).deliver(ConnectivityState.READY);
    LoadBalancer.PickResult pick = helper.picker().pickSubchannel(PickArgs.CLIENT_STREAMING);
    helper.run(balancer::shutdown);
    return pick;
  }

  /** Connects every endpoint, so that round robin is exact from here on. */
  private void connectAll(ManagedChannel channel, int endpoints) {
    channel.getState(true);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                metrics.sum("kube_grpc_lb.endpoints", Map.of("state", "ready", "in_rotation", true))
                    == endpoints);
  }

  private Map<String, Double> perPod(LoopbackPods pods, String name, Map<String, String> filter) {
    Map<String, Double> out = new java.util.HashMap<>();
    for (LoopbackPod pod : pods.all()) {
      out.put(pod.name(), metrics.sum(name, with(pod(pod), filter)));
    }
    return out;
  }

  private double delta(
      LoopbackPod pod, String name, Map<String, String> filter, Map<String, Double> before) {
    return metrics.sum(name, with(pod(pod), filter)) - before.get(pod.name());
  }

  private static Map<String, String> with(Map<String, String> base, Map<String, String> more) {
    Map<String, String> out = new java.util.HashMap<>(base);
    out.putAll(more);
    return out;
  }
}
