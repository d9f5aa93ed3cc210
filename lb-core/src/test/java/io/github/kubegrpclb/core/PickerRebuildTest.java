package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.CONNECTING;
import static io.grpc.ConnectivityState.READY;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.FakeHelper.FakeSubchannel;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.Subchannel;
import java.lang.management.ManagementFactory;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Picker rebuilds stay cheap with many endpoints: coalesced, sharing per-endpoint results, and O(1)
 * per state change when changes arrive one at a time.
 */
class PickerRebuildTest {
  private final FakeHelper helper = new FakeHelper();
  private LoadBalancer balancer;

  @AfterEach
  void tearDown() {
    helper.run(balancer::shutdown);
    helper.checkNoErrors();
  }

  private void start(String policy, int endpoints) {
    balancer =
        policy.equals("peak_ewma")
            ? PeakEwmaPolicy.balancer(
                helper,
                () -> 0L,
                bound -> java.util.concurrent.ThreadLocalRandom.current().nextInt(bound))
            : KubeRoundRobinPolicy.balancer(helper, bound -> 0);
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(EndpointGroups.endpoints(0, endpoints))
                    .build()));
  }

  private static Map<Subchannel, PickResult> resultsOf(LoadBalancer.SubchannelPicker picker) {
    Map<Subchannel, PickResult> results = new HashMap<>();
    for (int i = 0; i < 10_000; i++) {
      PickResult result = picker.pickSubchannel(PickArgs.UNARY);
      results.put(result.getSubchannel(), result);
    }
    return results;
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void stateChangesQueuedTogether_publishOnePicker(String policy) {
    start(policy, 500);
    int published = helper.stateHistory().size();
    List<FakeSubchannel> subchannels = helper.createdSubchannels();

    helper.run(
        () -> {
          for (FakeSubchannel subchannel : subchannels) {
            subchannel.deliver(CONNECTING);
            subchannel.deliver(READY);
          }
        });

    assertThat(helper.stateHistory().subList(published, helper.stateHistory().size()))
        .containsExactly(READY);
    assertThat(resultsOf(helper.picker())).hasSize(500);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void rebuild_reusesEachEndpointsPickResult(String policy) {
    start(policy, 3);
    List<FakeSubchannel> subchannels = helper.createdSubchannels();
    subchannels.get(0).deliver(READY);
    subchannels.get(1).deliver(READY);
    Map<Subchannel, PickResult> before = resultsOf(helper.picker());

    subchannels.get(2).deliver(READY);

    Map<Subchannel, PickResult> after = resultsOf(helper.picker());
    assertThat(after).hasSize(3);
    for (Subchannel subchannel : before.keySet()) {
      assertThat(after.get(subchannel)).isSameAs(before.get(subchannel));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void stateChangesOneAtATime_eachCostsConstantWork_notAPassOverEveryEndpoint(String policy) {
    int endpoints = 10_000;
    start(policy, endpoints);
    List<FakeSubchannel> subchannels = helper.createdSubchannels();
    for (FakeSubchannel subchannel : subchannels.subList(0, endpoints / 2)) {
      subchannel.deliver(READY);
    }
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long thread = Thread.currentThread().getId();
    long before = threads.getThreadAllocatedBytes(thread);

    for (FakeSubchannel subchannel : subchannels.subList(endpoints / 2, endpoints)) {
      subchannel.deliver(CONNECTING);
      subchannel.deliver(READY); // each in its own drain: one picker published per change
    }

    long perChange = (threads.getThreadAllocatedBytes(thread) - before) / (endpoints / 2);
    // ~3-5 KB: the picker, its description, the context's tasks. A picker that copied its
    // 5,000-10,000 endpoints would allocate 20-40 KB per array, and it needs several.
    assertThat(perChange).as("bytes allocated per endpoint becoming READY").isLessThan(12_000);
    LoadBalancer.SubchannelPicker picker = helper.picker();
    List<Subchannel> inRotation =
        picker instanceof PeakEwmaPicker peakEwma
            ? peakEwma.subchannels()
            : ((KubeRoundRobinPolicy.Picker) picker).subchannels();
    assertThat(new java.util.HashSet<>(inRotation).size()).isEqualTo(endpoints);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void sameAddressesAgain_afterEndpointsJoinedOutOfOrder_publishNoNewPicker(String policy) {
    start(policy, 5);
    List<FakeSubchannel> subchannels = helper.createdSubchannels();
    for (int i = 4; i >= 0; i--) {
      subchannels.get(i).deliver(READY);
    }
    LoadBalancer.SubchannelPicker picker = helper.picker();
    int published = helper.stateHistory().size();

    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(EndpointGroups.endpoints(0, 5))
                    .build()));

    assertThat(helper.stateHistory()).hasSize(published);
    assertThat(helper.picker()).isSameAs(picker);
  }
}
