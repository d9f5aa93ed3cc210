package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.FakeHelper.FakeSubchannel;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.SubchannelPicker;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The connection management both policies share, through {@code kube_round_robin}. */
class EndpointSetLoadBalancerTest {
  private final FakeHelper helper = new FakeHelper();
  private final LoadBalancer balancer = KubeRoundRobinPolicy.balancer(helper, bound -> 0);

  @AfterEach
  void noErrorsInSyncContext() {
    helper.checkNoErrors();
  }

  private void accept(List<EquivalentAddressGroup> groups) {
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder().setAddresses(groups).build()));
  }

  private static void assertNeverPicks(SubchannelPicker picker, FakeSubchannel subchannel) {
    for (int i = 0; i < 20; i++) {
      PickResult result = picker.pickSubchannel(PickArgs.UNARY);
      assertThat(result.getSubchannel()).as("pick %s of %s", i, picker).isNotSameAs(subchannel);
    }
  }

  @Test
  void update_endpointRemoved_newPickerPublishedBeforeItsSubchannelShutsDown() {
    accept(EndpointGroups.endpoints(0, 3));
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));
    FakeSubchannel removed = helper.subchannelFor(EndpointGroups.endpoint(2));

    accept(EndpointGroups.endpoints(0, 2));

    assertThat(removed.isShutdown()).isTrue();
    assertNeverPicks(removed.pickerAtShutdown(), removed);
    assertThat(helper.state()).isEqualTo(READY);
  }

  @Test
  void update_noEndpoints_errorPickerPublishedBeforeSubchannelsShutDown() {
    accept(EndpointGroups.endpoints(0, 2));
    helper.createdSubchannels().forEach(sc -> sc.deliver(READY));

    accept(List.of());

    assertThat(helper.createdSubchannels())
        .allSatisfy(
            sc -> {
              assertThat(sc.isShutdown()).isTrue();
              assertThat(sc.pickerAtShutdown().pickSubchannel(PickArgs.UNARY).getStatus().isOk())
                  .isFalse();
            });
    assertThat(helper.state()).isEqualTo(TRANSIENT_FAILURE);
  }
}
