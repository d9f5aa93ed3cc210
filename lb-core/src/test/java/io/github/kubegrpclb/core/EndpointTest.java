package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.grpc.LoadBalancer.CreateSubchannelArgs;
import io.grpc.LoadBalancer.Subchannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The per-stage slots an endpoint keeps for its stages. */
class EndpointTest {
  private static final Endpoint.Slot<String> NAME = Endpoint.Slot.of(String.class);
  private static final Endpoint.Slot<Integer> COUNT = Endpoint.Slot.of(Integer.class);

  private final FakeHelper helper = new FakeHelper();

  private Endpoint<Void> endpoint() {
    List<Subchannel> created = new ArrayList<>();
    helper.run(
        () ->
            created.add(
                helper.createSubchannel(
                    CreateSubchannelArgs.newBuilder()
                        .setAddresses(EndpointGroups.endpoint(0))
                        .build())));
    return new Endpoint<>(created.get(0), EndpointGroups.endpoint(0), null);
  }

  @Test
  void slot_neverSet_isNull() {
    assertThat(endpoint().get(NAME)).isNull();
  }

  @Test
  void slots_ofTwoStages_holdTheirOwnState() {
    Endpoint<Void> endpoint = endpoint();
    endpoint.set(NAME, "ejection");
    endpoint.set(COUNT, 3);

    assertThat(endpoint.get(NAME)).isEqualTo("ejection");
    assertThat(endpoint.get(COUNT)).isEqualTo(3);
  }

  @Test
  void slot_declaredAfterTheEndpointWasCreated_growsItsSlots() {
    Endpoint<Void> endpoint = endpoint();
    endpoint.set(NAME, "ejection");
    Endpoint.Slot<Long> later = Endpoint.Slot.of(Long.class); // a test's, declared once

    assertThat(endpoint.get(later)).isNull();
    endpoint.set(later, 7L);

    assertThat(endpoint.get(later)).isEqualTo(7L);
    assertThat(endpoint.get(NAME)).isEqualTo("ejection");
  }

  @Test
  void slot_setToNull_isDroppedAndTheOthersKept() {
    Endpoint<Void> endpoint = endpoint();
    endpoint.set(NAME, "ejection");
    endpoint.set(COUNT, 3);

    endpoint.set(NAME, null);

    assertThat(endpoint.get(NAME)).isNull();
    assertThat(endpoint.get(COUNT)).isEqualTo(3);
  }
}
