package io.github.kubegrpclb.core;

import io.grpc.Attributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Chooses which connected endpoints a picker may use: Kubernetes' serving rules, applied to what
 * the client can actually reach.
 *
 * <p>Rules (from kube-proxy, KEP-1669 and topology-aware routing): use endpoints whose condition is
 * READY; only when none of those is connected, use terminating-but-serving ones (topology is
 * ignored for that fallback). When the client's node is known and every candidate carries node
 * hints ({@code PreferSameNode}), keep the candidates hinted for the client's node; when none of
 * those is connected, or there are no node hints, and the client's zone is known and every
 * candidate carries zone hints, keep the candidates hinted for the client's zone; when none of
 * those is connected either, use every candidate: a preference never holds RPCs. This is
 * kube-proxy's {@code topologyModeFromHints}, applied to connected endpoints. Stateless.
 */
final class Rotation {
  private Rotation() {}

  /**
   * Returns the endpoints to pick from, a subset of {@code connected} in the same order.
   *
   * @param connected endpoints whose subchannel is READY
   * @param readyConnecting whether an endpoint with condition READY is still connecting; if so, and
   *     none is connected, the result is empty (wait for it rather than use the fallback)
   * @param clientZone the client's zone, or null when unknown
   */
  static <T> List<Endpoint<T>> select(
      List<Endpoint<T>> connected, boolean readyConnecting, String clientZone) {
    return select(connected, readyConnecting, clientZone, null);
  }

  /**
   * Returns the endpoints to pick from, a subset of {@code connected} in the same order.
   *
   * @param connected endpoints whose subchannel is READY
   * @param readyConnecting whether an endpoint with condition READY is still connecting; if so, and
   *     none is connected, the result is empty (wait for it rather than use the fallback)
   * @param clientZone the client's zone, or null when unknown
   * @param clientNode the client's node, or null when unknown
   */
  static <T> List<Endpoint<T>> select(
      List<Endpoint<T>> connected, boolean readyConnecting, String clientZone, String clientNode) {
    List<Endpoint<T>> ready = new ArrayList<>(connected.size());
    for (Endpoint<T> endpoint : connected) {
      if (endpoint.condition() == EndpointCondition.READY) {
        ready.add(endpoint);
      }
    }
    if (ready.isEmpty()) {
      return readyConnecting ? List.of() : connected;
    }
    if (clientNode != null) {
      List<Endpoint<T>> sameNode = hintedFor(ready, clientNode, EndpointAttributes.NODE_HINTS);
      if (!sameNode.isEmpty()) {
        return sameNode;
      }
    }
    if (clientZone != null) {
      List<Endpoint<T>> sameZone = hintedFor(ready, clientZone, EndpointAttributes.ZONE_HINTS);
      if (!sameZone.isEmpty()) {
        return sameZone;
      }
    }
    return ready;
  }

  /** The endpoints hinted for {@code place}; empty unless every endpoint carries hints. */
  private static <T> List<Endpoint<T>> hintedFor(
      List<Endpoint<T>> ready, String place, Attributes.Key<Set<String>> hintsKey) {
    List<Endpoint<T>> local = new ArrayList<>(ready.size());
    for (Endpoint<T> endpoint : ready) {
      Set<String> hints = endpoint.group().getAttributes().get(hintsKey);
      if (hints == null || hints.isEmpty()) {
        return List.of(); // kube-proxy ignores hints unless every endpoint has them
      }
      if (hints.contains(place)) {
        local.add(endpoint);
      }
    }
    return local;
  }
}
