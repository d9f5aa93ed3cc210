package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.github.kubegrpclb.testing.TestMetrics;
import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.Subchannel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Slow start on the fake clock: the ramp of a joining endpoint, and none at start-up. */
class SlowStartTest {
  private final FakeHelper helper = new FakeHelper();
  private final FakeClock clock = helper.clock();
  private final Random random = new Random(11);
  private final KubeRoundRobinLoadBalancer balancer =
      new KubeRoundRobinLoadBalancer(helper, random::nextInt, clock.ticker(), (sc, t, cb) -> {});

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

    assertThat(picksOf(joined, 100_000)).isBetween(100, 400); // weight 1 %: ~0.2 % of picks
    clock.forward(Duration.ofSeconds(5)); // weight (5 / 10)^2 = 25 %: ~5 %
    assertThat(picksOf(joined, 100_000)).isBetween(4_000, 6_000);
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
    KubeRoundRobinLoadBalancer watched =
        new KubeRoundRobinLoadBalancer(observed, random::nextInt, time.ticker(), (sc, t, cb) -> {});
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
