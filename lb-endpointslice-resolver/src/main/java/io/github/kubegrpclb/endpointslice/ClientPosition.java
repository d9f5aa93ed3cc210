package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Pattern;
import javax.annotation.Nullable;

/**
 * This client pod's position among the pods of its own Service, read from that Service's
 * EndpointSlices: the client's coordinate for deterministic subsetting ({@code
 * EndpointAttributes.CLIENT_INDEX}). Stateless.
 *
 * <p>Every pod the slices list counts, ready or not, terminating or not: the list then changes only
 * when a pod gets its IP or is gone, never when a readiness probe flaps (each change shifts the
 * position of every pod after it, which re-deals those clients' subsets), and a starting client
 * finds itself before it is ready. Names sort naturally (a numeric suffix by its value), so
 * StatefulSet pod {@code web-7} is at position 7 while {@code web-0}..{@code web-7} exist, and
 * scaling the StatefulSet adds or removes only the last positions.
 *
 * @param index the pod's position, 0-based; -1 when the slices do not list it
 * @param count the pods the slices list
 */
record ClientPosition(int index, int count) {
  private static final Pattern ORDINAL = Pattern.compile("\\d{1,9}");

  /**
   * Natural order, a total order: the part before the last '-', then numeric suffixes (by value)
   * before the others (by text).
   */
  static final Comparator<String> NATURAL_ORDER =
      Comparator.comparing(ClientPosition::prefix)
          .thenComparing(name -> ORDINAL.matcher(suffix(name)).matches() ? 0 : 1)
          .thenComparingLong(
              name -> ORDINAL.matcher(suffix(name)).matches() ? Long.parseLong(suffix(name)) : 0)
          .thenComparing(ClientPosition::suffix);

  boolean found() {
    return index >= 0;
  }

  /**
   * Finds the pod named {@code podName}, else the one at {@code podIp}, among the pods {@code
   * slices} list.
   *
   * @param podName the pod's name (an endpoint's {@code targetRef.name}), or null
   * @param podIp the pod's IP, or null
   */
  static ClientPosition find(
      Collection<EndpointSlice> slices, @Nullable String podName, @Nullable String podIp) {
    TreeSet<String> names = new TreeSet<>(NATURAL_ORDER); // a dual-stack pod is in two slices
    String nameAtIp = null;
    for (EndpointSlice slice : slices) {
      List<Endpoint> endpoints = slice.getEndpoints() == null ? List.of() : slice.getEndpoints();
      for (Endpoint endpoint : endpoints) {
        List<String> addresses =
            endpoint.getAddresses() == null ? List.of() : endpoint.getAddresses();
        String name = name(endpoint, addresses);
        if (name == null) {
          continue;
        }
        names.add(name);
        if (nameAtIp == null && podIp != null && containsIp(addresses, podIp)) {
          nameAtIp = name;
        }
      }
    }
    String self = podName != null && names.contains(podName) ? podName : nameAtIp;
    return new ClientPosition(self == null ? -1 : names.headSet(self).size(), names.size());
  }

  /** The endpoint's pod name; else its hostname; else its first address; null without any. */
  @Nullable
  private static String name(Endpoint endpoint, List<String> addresses) {
    ObjectReference ref = endpoint.getTargetRef();
    if (ref != null && ref.getName() != null && !ref.getName().isEmpty()) {
      return ref.getName();
    }
    if (endpoint.getHostname() != null && !endpoint.getHostname().isEmpty()) {
      return endpoint.getHostname();
    }
    return addresses.isEmpty() ? null : addresses.get(0);
  }

  private static boolean containsIp(List<String> addresses, String ip) {
    for (String address : addresses) {
      if (address.equals(ip) || (ip.contains(":") && sameIpv6(address, ip))) {
        return true;
      }
    }
    return false;
  }

  /** Equal IPv6 literals written differently ({@code fd00::1} and {@code fd00:0:0::1}). */
  private static boolean sameIpv6(String a, String b) {
    if (!a.contains(":") || !a.matches("[0-9a-fA-F:.]+") || !b.matches("[0-9a-fA-F:.]+")) {
      return false;
    }
    try {
      return InetAddress.getByName(a).equals(InetAddress.getByName(b)); // literals: no lookup
    } catch (UnknownHostException e) {
      return false;
    }
  }

  private static String prefix(String name) {
    int dash = name.lastIndexOf('-');
    return dash < 0 ? name : name.substring(0, dash);
  }

  private static String suffix(String name) {
    int dash = name.lastIndexOf('-');
    return dash < 0 ? "" : name.substring(dash + 1);
  }
}
