package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.grpc.EquivalentAddressGroup;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IntSummaryStatistics;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link DeterministicSubset}'s deterministic aperture: the client count is known. */
class DeterministicApertureTest {

  private static List<EquivalentAddressGroup> aperture(
      List<EquivalentAddressGroup> backends, int size, long index, int count) {
    return DeterministicSubset.select(backends, size, new ClientIndex(index, count, "test"));
  }

  private static Map<EquivalentAddressGroup, Integer> clientsPerBackend(
      List<EquivalentAddressGroup> backends, int clients, int size) {
    Map<EquivalentAddressGroup, Integer> counts = new HashMap<>();
    backends.forEach(b -> counts.put(b, 0));
    for (int client = 0; client < clients; client++) {
      for (EquivalentAddressGroup b : aperture(backends, size, client, clients)) {
        counts.merge(b, 1, Integer::sum);
      }
    }
    return counts;
  }

  /** Backends one client drops when its subset changes from {@code before} to {@code after}. */
  private static int dropped(
      List<EquivalentAddressGroup> before, List<EquivalentAddressGroup> after) {
    Set<EquivalentAddressGroup> gone = new HashSet<>(before);
    after.forEach(gone::remove);
    return gone.size();
  }

  @ParameterizedTest(name = "{0} clients x {1} backends, subset {2}")
  @CsvSource({"300, 300, 30", "1000, 300, 30", "100, 1000, 10", "37, 250, 7", "301, 300, 30"})
  void aperture_everyBackendCovered_loadWithinOneOfTheMean(int clients, int backends, int size) {
    IntSummaryStatistics load =
        clientsPerBackend(EndpointGroups.endpoints(0, backends), clients, size).values().stream()
            .mapToInt(Integer::intValue)
            .summaryStatistics();

    assertThat(load.getMin()).isGreaterThanOrEqualTo(1);
    assertThat(load.getMax() - load.getMin()).isLessThanOrEqualTo(1);
    assertThat((double) load.getMax()).isLessThanOrEqualTo(load.getAverage() + 1);
    assertThat((double) load.getMin()).isGreaterThanOrEqualTo(load.getAverage() - 1);
  }

  @Test
  void aperture_300x300x30_exactlyThirtyEach() {
    IntSummaryStatistics load =
        clientsPerBackend(EndpointGroups.endpoints(0, 300), 300, 30).values().stream()
            .mapToInt(Integer::intValue)
            .summaryStatistics();

    // As many clients as backends: every aperture starts on a backend boundary and spans 30 arcs.
    assertThat(load.getMin()).isEqualTo(30);
    assertThat(load.getMax()).isEqualTo(30);
  }

  @Test
  void aperture_subsetHasSizeOrSizePlusOneDistinctBackends() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 1000);
    for (int client = 0; client < 70; client++) {
      assertThat(aperture(backends, 25, client, 70)).doesNotHaveDuplicates().hasSizeBetween(25, 26);
    }
  }

  @Test
  void aperture_clientAddedInTheMiddle_laterIndexesShift_eachClientDropsAtMostTwo() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 300);
    int moved = 0;
    for (int client = 0; client < 300; client++) {
      // A pod joining at position 150 shifts every later client's index by one.
      long after = client < 150 ? client : client + 1;
      int drops = dropped(aperture(backends, 30, client, 300), aperture(backends, 30, after, 301));
      assertThat(drops).as("client %s", client).isLessThanOrEqualTo(2);
      moved += drops;
    }
    // About one connection per client, where SRE subsets re-deal every shifted client.
    assertThat(moved).isLessThanOrEqualTo(300);
  }

  @Test
  void aperture_clientRemoved_eachClientDropsAtMostTwo() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 300);
    for (int client = 0; client < 300; client++) {
      if (client == 10) {
        continue;
      }
      long after = client < 10 ? client : client - 1;
      assertThat(dropped(aperture(backends, 30, client, 300), aperture(backends, 30, after, 299)))
          .as("client %s", client)
          .isLessThanOrEqualTo(2);
    }
  }

  @Test
  void aperture_backendAddedOrRemoved_eachClientDropsAtMostTwo() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 300);
    List<EquivalentAddressGroup> grown = EndpointGroups.endpoints(0, 301);
    List<EquivalentAddressGroup> shrunk = new ArrayList<>(backends);
    shrunk.remove(123);

    for (int client = 0; client < 300; client++) {
      List<EquivalentAddressGroup> before = aperture(backends, 30, client, 300);
      assertThat(dropped(before, aperture(grown, 30, client, 300))).isLessThanOrEqualTo(2);
      assertThat(dropped(before, aperture(shrunk, 30, client, 300))).isLessThanOrEqualTo(2);
    }
  }

  @Test
  void aperture_sameEndpointsInAnotherOrder_sameSubset() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 200);
    List<EquivalentAddressGroup> shuffled = new ArrayList<>(backends);
    Collections.shuffle(shuffled, new Random(1));

    for (int client = 0; client < 40; client++) {
      assertThat(aperture(shuffled, 20, client, 40))
          .containsExactlyElementsOf(aperture(backends, 20, client, 40));
    }
  }

  @Test
  void aperture_subsetAtLeastEndpointCount_returnsAll() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 10);

    assertThat(aperture(backends, 10, 3, 5)).isSameAs(backends);
    assertThat(aperture(backends, 50, 3, 5)).isSameAs(backends);
  }

  @Test
  void aperture_oneClient_takesSubsetSizeBackends() {
    assertThat(aperture(EndpointGroups.endpoints(0, 300), 30, 0, 1))
        .hasSize(30)
        .doesNotHaveDuplicates();
  }

  @Test
  void aperture_indexAtOrPastTheCount_wrapsAroundTheRing() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 100);

    assertThat(aperture(backends, 10, 13, 10)).isEqualTo(aperture(backends, 10, 3, 10));
    assertThat(aperture(backends, 10, 10, 10)).isEqualTo(aperture(backends, 10, 0, 10));
  }

  @Test
  void aperture_lastClientsWrapPastTheEndOfTheRing() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 100);

    // Client 9 of 10 starts at 0.9 and spans 0.2: ring positions 90..99 and 0..9.
    Set<EquivalentAddressGroup> last = new HashSet<>(aperture(backends, 20, 9, 10));
    Set<EquivalentAddressGroup> first = new HashSet<>(aperture(backends, 20, 0, 10));
    assertThat(last).hasSize(20);
    assertThat(last).containsAll(aperture(backends, 10, 0, 10));
    assertThat(first).hasSize(20);
  }

  @Test
  void aperture_countUnknown_usesTheSreSubsets() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 100);

    assertThat(DeterministicSubset.select(backends, 10, new ClientIndex(7, 0, "test")))
        .isEqualTo(DeterministicSubset.select(backends, 10, 7));
  }

  @Test
  void apertureOf_countBelowOne_rejected() {
    assertThatThrownBy(() -> DeterministicSubset.apertureOf(new long[3], 1, 0, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("clientCount 0");
  }
}
