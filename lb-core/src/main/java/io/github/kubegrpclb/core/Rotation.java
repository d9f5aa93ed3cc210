package io.github.kubegrpclb.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Chooses which connected endpoints a picker may use: Kubernetes' serving rules, applied to what
 * the client can actually reach.
 *
 * <p>Rules (from kube-proxy, KEP-1669 and topology-aware routing): use endpoints whose condition is
 * READY; only when none of those is connected, use terminating-but-serving ones (topology is
 * ignored for that fallback). When the client's zone is known and every candidate carries zone
 * hints, keep the candidates hinted for the client's zone, unless none is connected. Stateless.
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
    List<Endpoint<T>> ready = new ArrayList<>(connected.size());
    for (Endpoint<T> endpoint : connected) {
      if (endpoint.condition() == EndpointCondition.READY) {
        ready.add(endpoint);
      }
    }
    if (ready.isEmpty()) {
      return readyConnecting ? List.of() : connected;
    }
    return clientZone == null ? ready : preferZone(ready, clientZone);
  }

  private static <T> List<Endpoint<T>> preferZone(List<Endpoint<T>> ready, String clientZone) {
    List<Endpoint<T>> local = new ArrayList<>(ready.size());
    for (Endpoint<T> endpoint : ready) {
      Set<String> hints = EndpointAttributes.zoneHintsOf(endpoint.group());
      if (hints.isEmpty()) {
        return ready; // kube-proxy ignores hints unless every endpoint has them
      }
      if (hints.contains(clientZone)) {
        local.add(endpoint);
      }
    }
    return local.isEmpty() ? ready : local;
  }
}
