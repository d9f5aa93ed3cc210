package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.CONNECTING;
import static io.grpc.ConnectivityState.READY;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.FakeHelper.FakeSubchannel;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.Attributes;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Both providers with grpc-services on the classpath: grpc-java's health-checking wrapper (which
 * copies every pick's result) sits in front of our pickers only while the service config asks for
 * health checking. Health checking itself is tested end to end in {@link
 * BalancingOverLoopbackPodsTest}.
 */
class HealthCheckingTest {
  private static final Attributes HEALTH_CHECKED =
      Attributes.newBuilder()
          .set(LoadBalancer.ATTR_HEALTH_CHECKING_CONFIG, Map.of("serviceName", ""))
          .build();

  private final FakeHelper helper = new FakeHelper();
  private LoadBalancer balancer;

  @AfterEach
  void tearDown() {
    if (balancer != null) {
      helper.run(balancer::shutdown);
    }
    helper.checkNoErrors();
  }

  private void start(String policy) {
    LoadBalancerProvider provider = LoadBalancerRegistry.getDefaultRegistry().getProvider(policy);
    assertThat(provider).as(policy).isNotNull();
    balancer = provider.newLoadBalancer(helper);
  }

  private void accept(Attributes attributes) {
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(EndpointGroups.endpoints(0, 3))
                    .setAttributes(attributes)
                    .build()));
  }

  private static boolean isOurs(LoadBalancer.SubchannelPicker picker) {
    return picker instanceof KubeRoundRobinPolicy.Picker
        || picker instanceof PeakEwmaPicker
        || picker instanceof BufferPicker;
  }

  private void deliverReadyToLiveSubchannels() {
    for (FakeSubchannel subchannel : helper.liveSubchannels()) {
      subchannel.deliver(CONNECTING);
      subchannel.deliver(READY);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void noHealthCheckConfig_channelGetsOurPicker_andPicksReuseResults(String policy) {
    start(policy);
    accept(Attributes.EMPTY);
    deliverReadyToLiveSubchannels();

    assertThat(helper.state()).isEqualTo(READY);
    LoadBalancer.SubchannelPicker picker = helper.picker();
    assertThat(isOurs(picker)).as("%s", picker).isTrue();
    List<PickResult> first = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      first.add(picker.pickSubchannel(PickArgs.UNARY));
    }
    // 3 endpoints: every pick returns one of 3 results built with the picker, nothing new.
    assertThat(first.stream().distinct().toList()).hasSize(3);
    assertThat(first)
        .allSatisfy(r -> assertThat(r.getSubchannel()).isInstanceOf(FakeSubchannel.class));
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void healthCheckConfig_wrapsPicker_andDroppingItUnwraps(String policy) {
    start(policy);
    accept(HEALTH_CHECKED);

    assertThat(helper.state()).isEqualTo(CONNECTING);
    assertThat(isOurs(helper.picker())).as("%s", helper.picker()).isFalse();
    List<FakeSubchannel> checkedSubchannels = helper.liveSubchannels();
    assertThat(checkedSubchannels).hasSize(3);

    accept(Attributes.EMPTY); // not READY yet: grpc-java's graceful switch swaps at once

    assertThat(checkedSubchannels).allSatisfy(sc -> assertThat(sc.isShutdown()).isTrue());
    deliverReadyToLiveSubchannels();
    assertThat(helper.state()).isEqualTo(READY);
    assertThat(isOurs(helper.picker())).as("%s", helper.picker()).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void healthCheckConfigAddedWhileReady_oldPickerServesUntilNewBalancerConnects(String policy) {
    start(policy);
    accept(Attributes.EMPTY);
    deliverReadyToLiveSubchannels();
    LoadBalancer.SubchannelPicker bare = helper.picker();
    List<FakeSubchannel> bareSubchannels = helper.liveSubchannels();

    accept(HEALTH_CHECKED);

    assertThat(helper.picker()).isSameAs(bare);
    assertThat(helper.liveSubchannels()).hasSize(6).containsAll(bareSubchannels);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void sameHealthCheckConfigAgain_keepsConnections(String policy) {
    start(policy);
    accept(HEALTH_CHECKED);
    accept(HEALTH_CHECKED);
    accept(Attributes.EMPTY);
    accept(Attributes.EMPTY);

    assertThat(helper.createdSubchannels()).hasSize(6);
    assertThat(helper.liveSubchannels()).hasSize(3);
  }
}
