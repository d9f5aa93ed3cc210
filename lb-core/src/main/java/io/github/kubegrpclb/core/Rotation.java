package io.github.kubegrpclb.core;

import javax.annotation.Nullable;

/**
 * Chooses which connected endpoints a picker may use: Kubernetes' serving rules, applied to what
 * the client can actually reach.
 *
 * <p>Rules (from kube-proxy, KEP-1669 and topology-aware routing): use endpoints whose condition is
 * READY; only when none of those is connected, use terminating-but-serving ones (topology is
 * ignored for that fallback). When the client's node is known and every candidate carries node
 * hints ({@code PreferSameNode}), keep the endpoints hinted for the client's node; when none of
 * those is connected, or there are no node hints, and the client's zone is known and every endpoint
 * carries zone hints, keep the endpoints hinted for the client's zone; when none of those is
 * connected either, use every candidate: a preference never holds RPCs. This is kube-proxy's {@code
 * topologyModeFromHints}, applied to connected endpoints. Stateless: it chooses among the lists
 * {@link RotationLists} keeps, so a choice costs O(1).
 */
final class Rotation {
  private Rotation() {}

  /**
   * Returns the endpoints to pick from, one of {@code rotationLists}' lists (possibly empty), or
   * null while RPCs should wait for an endpoint still connecting. O(1).
   *
   * <p>Admission first (endpoints ejected by outlier ejection only when every connected one is: the
   * panic threshold keeps some admitted, and should a config change eject them all anyway, all of
   * them are used rather than none), then condition, then topology ({@code byTopology}).
   *
   * @param clientZone the client's zone, or null when unknown
   * @param clientNode the client's node, or null when unknown
   */
  @Nullable
  static <T> EndpointList<T> select(
      RotationLists<T> rotationLists, @Nullable String clientZone, @Nullable String clientNode) {
    RotationLists.AdmissionLists<T> lists = rotationLists.admissible();
    if (lists.ready.isEmpty()) {
      // Wait for a READY endpoint still connecting rather than use the fallback.
      return rotationLists.anyReadyConnecting() ? null : lists.serving;
    }
    return byTopology(lists, clientZone, clientNode);
  }

  /**
   * Of one admission state's connected READY endpoints, those the topology rules prefer: hinted for
   * the client's node, else for its zone, else all of them; a hint counts only when every endpoint
   * carries one.
   */
  private static <T> EndpointList<T> byTopology(
      RotationLists.AdmissionLists<T> lists,
      @Nullable String clientZone,
      @Nullable String clientNode) {
    if (clientNode != null && lists.everyReadyHasNodeHints() && !lists.sameNode.isEmpty()) {
      return lists.sameNode;
    }
    if (clientZone != null && lists.everyReadyHasZoneHints() && !lists.sameZone.isEmpty()) {
      return lists.sameZone;
    }
    return lists.ready;
  }
}
