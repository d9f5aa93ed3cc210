package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.notReady;
import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.github.kubegrpclb.testing.MockKubernetesApi.Pod;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A client pod's position among the pods its own Service's EndpointSlices list. */
class ClientPositionTest {
  private static final Map<String, Integer> PORTS = Map.of("grpc", 8080);

  private static EndpointSlice clientSlice(String name, Pod... pods) {
    return slice("my-client", name, PORTS, pods);
  }

  @Test
  void podByName_positionAmongSortedNames_readyOrNot() {
    List<EndpointSlice> slices =
        List.of(
            clientSlice(
                "my-client-a",
                ready("client-c", "10.0.0.3"),
                notReady("client-a", "10.0.0.1"),
                ready("client-b", "10.0.0.2")));

    assertThat(ClientPosition.find(slices, "client-b", null)).isEqualTo(new ClientPosition(1, 3));
    assertThat(ClientPosition.find(slices, "client-a", null))
        .as("a pod not ready yet still has its position")
        .isEqualTo(new ClientPosition(0, 3));
  }

  @Test
  void podByIp_whenTheNameIsNotListed() {
    List<EndpointSlice> slices =
        List.of(
            clientSlice(
                "my-client-a", ready("client-a", "10.0.0.1"), ready("client-b", "10.0.0.2")),
            clientSlice(
                "my-client-v6", ready("client-b", "fd00::2"), ready("client-a", "fd00::1")));

    assertThat(ClientPosition.find(slices, "truncated-hostnam", "10.0.0.2").index()).isEqualTo(1);
    assertThat(ClientPosition.find(slices, null, "fd00:0:0:0:0:0:0:1"))
        .as("an IPv6 literal written otherwise; dual-stack pods counted once")
        .isEqualTo(new ClientPosition(0, 2));
  }

  @Test
  void podNotListed_notFound_withTheCount() {
    List<EndpointSlice> slices = List.of(clientSlice("my-client-a", ready("client-a", "10.0.0.1")));

    ClientPosition position = ClientPosition.find(slices, "client-b", "10.0.0.2");

    assertThat(position.found()).isFalse();
    assertThat(position).isEqualTo(new ClientPosition(-1, 1));
    assertThat(ClientPosition.find(List.of(), "client-b", null).found()).isFalse();
  }

  @Test
  void statefulSetNames_sortByOrdinal_positionIsTheOrdinal() {
    List<Pod> pods = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      pods.add(ready("web-" + i, "10.0.1." + (i + 1)));
    }
    Collections.shuffle(pods, new Random(7));
    List<EndpointSlice> slices =
        List.of(
            clientSlice("web-a", pods.subList(0, 5).toArray(Pod[]::new)),
            clientSlice("web-b", pods.subList(5, 12).toArray(Pod[]::new)));

    for (int i = 0; i < 12; i++) {
      assertThat(ClientPosition.find(slices, "web-" + i, null).index()).isEqualTo(i);
    }
  }

  @Test
  void naturalOrder_isATotalOrder_numericSuffixesByValue() {
    List<String> names =
        new ArrayList<>(
            List.of(
                "a-10a",
                "a-9",
                "a-10",
                "a-01",
                "a-1",
                "a",
                "b-0",
                "a-x",
                "web-5d8f7-24567",
                "web-5d8f7-bcdfg"));
    Collections.shuffle(names, new Random(3));
    names.sort(ClientPosition.NATURAL_ORDER);

    assertThat(names)
        .containsExactly(
            "a-01",
            "a-1",
            "a-9",
            "a-10",
            "a",
            "a-10a",
            "a-x",
            "b-0",
            "web-5d8f7-24567",
            "web-5d8f7-bcdfg");
    for (String x : names) {
      for (String y : names) {
        assertThat(Integer.signum(ClientPosition.NATURAL_ORDER.compare(x, y)))
            .isEqualTo(-Integer.signum(ClientPosition.NATURAL_ORDER.compare(y, x)));
      }
    }
  }
}
