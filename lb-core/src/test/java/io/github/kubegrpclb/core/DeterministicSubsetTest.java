package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.grpc.EquivalentAddressGroup;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DeterministicSubsetTest {

  private static Map<EquivalentAddressGroup, Integer> clientsPerBackend(
      List<EquivalentAddressGroup> backends, int clients, int size) {
    Map<EquivalentAddressGroup, Integer> counts = new HashMap<>();
    backends.forEach(b -> counts.put(b, 0));
    for (int client = 0; client < clients; client++) {
      for (EquivalentAddressGroup b : DeterministicSubset.select(backends, size, client)) {
        counts.merge(b, 1, Integer::sum);
      }
    }
    return counts;
  }

  @Test
  void select_300ClientsOver300Backends_everyBackendGetsExactly30() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 300);

    assertThat(clientsPerBackend(backends, 300, 30).values()).containsOnly(30);
  }

  @Test
  void select_backendsNotAMultipleOfSize_roundsStillCoverEveryBackendOnce() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 317);

    // 317 / 30 = 10 subsets per round of 31 or 32 endpoints; 20 complete rounds.
    assertThat(clientsPerBackend(backends, 200, 30).values()).containsOnly(20);
    assertThat(DeterministicSubset.select(backends, 30, 7).size()).isBetween(31, 32);
  }

  @Test
  void select_incompleteLastRound_loadWithinOneConnection() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 300);

    assertThat(clientsPerBackend(backends, 305, 30).values()).containsOnly(30, 31);
  }

  @Test
  void select_subsetHasDistinctEndpointsOfRequestedSize() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 1000);
    for (int client = 0; client < 50; client++) {
      List<EquivalentAddressGroup> subset = DeterministicSubset.select(backends, 25, client);
      assertThat(subset).hasSize(25).doesNotHaveDuplicates();
    }
  }

  @Test
  void select_sameEndpointsInAnotherOrder_sameSubset() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 200);
    List<EquivalentAddressGroup> shuffled = new ArrayList<>(backends);
    Collections.shuffle(shuffled, new Random(1));

    for (int client = 0; client < 20; client++) {
      assertThat(DeterministicSubset.select(shuffled, 20, client))
          .containsExactlyElementsOf(DeterministicSubset.select(backends, 20, client));
    }
  }

  @Test
  void select_oneBackendAddedOrRemoved_eachClientReplacesAtMostOneConnection() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 305);
    List<EquivalentAddressGroup> grown = EndpointGroups.endpoints(0, 306);
    List<EquivalentAddressGroup> shrunk = new ArrayList<>(backends);
    shrunk.remove(123);

    for (int client = 0; client < 300; client++) {
      Set<EquivalentAddressGroup> before =
          new HashSet<>(DeterministicSubset.select(backends, 30, client));
      for (List<EquivalentAddressGroup> after : List.of(grown, shrunk)) {
        Set<EquivalentAddressGroup> dropped = new HashSet<>(before);
        dropped.removeAll(DeterministicSubset.select(after, 30, client));
        assertThat(dropped).as("client %s", client).hasSizeLessThanOrEqualTo(1);
      }
    }
  }

  @Test
  void select_subsetAtLeastEndpointCount_returnsAll() {
    List<EquivalentAddressGroup> backends = EndpointGroups.endpoints(0, 10);

    assertThat(DeterministicSubset.select(backends, 10, 5)).isSameAs(backends);
    assertThat(DeterministicSubset.select(backends, 50, 5)).isSameAs(backends);
  }

  @Test
  void keyHash_isStableAcrossRuns() {
    // Every client must compute the same order: the hash may never depend on the JVM.
    assertThat(DeterministicSubset.keyHash("10.0.0.1:8080")).isEqualTo(-8089280979694392039L);
  }
}
