package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.grpc.LoadBalancer.CreateSubchannelArgs;
import io.grpc.LoadBalancer.PickResult;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Snapshots pickers read are never written again, and appends share their arrays. */
class EndpointListTest {
  private final FakeHelper helper = new FakeHelper();

  private List<Endpoint<String>> endpoints(int count) {
    List<Endpoint<String>> endpoints = new ArrayList<>();
    helper.run(
        () -> {
          for (int i = 0; i < count; i++) {
            var group = EndpointGroups.endpoint(i);
            endpoints.add(
                new Endpoint<>(
                    helper.createSubchannel(
                        CreateSubchannelArgs.newBuilder().setAddresses(group).build()),
                    group,
                    "state-" + i));
          }
        });
    return endpoints;
  }

  private static PickResult[] results(Endpoint<String> endpoint) {
    PickResult result = PickResult.withSubchannel(endpoint.subchannel());
    return new PickResult[] {result, result};
  }

  private static EndpointList<String> listOf(List<Endpoint<String>> members) {
    EndpointList<String> list = new EndpointList<>(2);
    members.forEach(endpoint -> list.add(endpoint, results(endpoint)));
    return list;
  }

  @Test
  void snapshot_keepsItsMembersThroughLaterAddsAndRemoves() {
    List<Endpoint<String>> e = endpoints(6);
    EndpointList<String> list = listOf(e.subList(0, 4));
    EndpointList.Snapshot<String> before = list.snapshot();

    list.remove(e.get(1));
    list.add(e.get(4), results(e.get(4)));
    list.remove(e.get(0));
    list.add(e.get(5), results(e.get(5)));

    assertThat(before).containsExactly(e.get(0), e.get(1), e.get(2), e.get(3));
    for (int i = 0; i < 4; i++) {
      assertThat(before.streamResults()[i].getSubchannel()).isSameAs(e.get(i).subchannel());
      assertThat(before.states()[i]).isEqualTo("state-" + i);
    }
    assertThat(list.snapshot()).containsExactly(e.get(2), e.get(3), e.get(4), e.get(5));
  }

  @Test
  void add_afterSnapshot_sharesTheSnapshotsArrays() {
    List<Endpoint<String>> e = endpoints(4);
    EndpointList<String> list = listOf(e.subList(0, 3)); // room for 4
    EndpointList.Snapshot<String> first = list.snapshot();

    list.add(e.get(3), results(e.get(3)));
    EndpointList.Snapshot<String> second = list.snapshot();

    assertThat(second.unaryResults()).isSameAs(first.unaryResults());
    assertThat(second).containsExactly(e.get(0), e.get(1), e.get(2), e.get(3));
    assertThat(first).containsExactly(e.get(0), e.get(1), e.get(2));
  }

  @Test
  void remove_keepsOrder_andSnapshotIsReusedUntilAChange() {
    List<Endpoint<String>> e = endpoints(5);
    EndpointList<String> list = listOf(e);
    list.snapshot();

    list.remove(e.get(2));
    list.remove(e.get(4)); // not in the snapshot taken: shifted in place

    EndpointList.Snapshot<String> snapshot = list.snapshot();
    assertThat(snapshot).containsExactly(e.get(0), e.get(1), e.get(3));
    assertThat(list.snapshot()).isSameAs(snapshot);
    assertThat(snapshot.sameSlots(list.snapshot())).isTrue();
    assertThatThrownBy(() -> list.remove(e.get(2))).isInstanceOf(IllegalStateException.class);
  }
}
