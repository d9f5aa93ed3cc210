package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointHints;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.ForNode;
import io.fabric8.kubernetes.api.model.discovery.v1.ForZone;
import io.github.kubegrpclb.core.EndpointAttributes;
import io.github.kubegrpclb.core.EndpointCondition;
import io.grpc.EquivalentAddressGroup;
import io.grpc.Status;
import io.grpc.StatusOr;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Pattern;
import javax.annotation.Nullable;

/**
 * Turns all EndpointSlices of one Service into address groups: the union of every slice (a slice
 * holds at most 100 endpoints by default), de-duplicated, one group per pod carrying the endpoint's
 * condition, zone, zone hints and node hints. A dual-stack pod's IPv4 and IPv6 addresses (from two
 * slices, same targetRef) form one group: one connection and one load figure per pod. Stateless.
 *
 * <p>Conditions follow the EndpointSlice API: {@code ready} unset means ready; {@code serving}
 * unset means the same as ready; {@code terminating} unset means false. Ready endpoints are in
 * rotation; serving and terminating ones are a fallback; the rest are left out. A named port is
 * resolved per slice, since pods behind one Service can use different target ports.
 */
final class EndpointSliceMapper {
  private static final Pattern IP_LITERAL = Pattern.compile("[0-9a-fA-F:.]+");

  private EndpointSliceMapper() {}

  /**
   * Returns the endpoints of {@code slices}, or UNAVAILABLE naming what is wrong (e.g. an unknown
   * port name).
   *
   * @param portName the port's name, or null for {@code portNumber}
   * @param portNumber the pod port when no name is given; 0 for the slices' only port
   */
  static StatusOr<List<EquivalentAddressGroup>> map(
      Collection<EndpointSlice> slices, String service, @Nullable String portName, int portNumber) {
    Map<String, PodEndpoint> byPod = new HashMap<>();
    Set<String> portNames = new TreeSet<>();
    boolean anyEndpoint = false;
    boolean portFound = false;
    for (EndpointSlice slice : slices) {
      String type = slice.getAddressType();
      if (type != null && !type.equals("IPv4") && !type.equals("IPv6")) {
        continue; // FQDN slices are deprecated and carry no IPs
      }
      List<Endpoint> endpoints = slice.getEndpoints() == null ? List.of() : slice.getEndpoints();
      anyEndpoint |= !endpoints.isEmpty();
      Integer port = port(slice, portName, portNumber, portNames);
      if (port == null) {
        continue;
      }
      portFound = true;
      for (Endpoint endpoint : endpoints) {
        EndpointCondition condition = condition(endpoint.getConditions());
        if (condition == null || endpoint.getAddresses() == null) {
          continue;
        }
        for (String ip : endpoint.getAddresses()) {
          InetSocketAddress address = address(ip, port);
          if (address != null) {
            byPod
                .computeIfAbsent(podKey(endpoint, address), k -> new PodEndpoint(condition))
                .add(address, condition, endpoint);
          }
        }
      }
    }
    if (anyEndpoint && !portFound) {
      String wanted =
          portName != null
              ? "port name '" + portName + "'"
              : "a port (the target names none and the Service has several)";
      return StatusOr.fromStatus(
          Status.UNAVAILABLE.withDescription(
              wanted
                  + " is not among the ports of the EndpointSlices of "
                  + service
                  + "; ports there: "
                  + portNames
                  + " (use one of these names, or the pod's port number)"));
    }
    // A stable order (slices come in any order) keeps equal sets equal for the balancer.
    TreeMap<String, EquivalentAddressGroup> sorted = new TreeMap<>();
    byPod.forEach(
        (key, pod) -> {
          EquivalentAddressGroup group = pod.toGroup();
          InetSocketAddress first = (InetSocketAddress) group.getAddresses().get(0);
          sorted.put(
              first.getAddress().getHostAddress() + "#" + first.getPort() + "#" + key, group);
        });
    return StatusOr.fromValue(List.copyOf(sorted.values()));
  }

  /**
   * The pod-port trap: with a headless Service clients dial the pod's port, not the Service's; a
   * target naming the Service port dials every pod on a port it may not listen on. Returns a note
   * when {@code portNumber} is not among the ports of the slices (naming theirs), or null when it
   * is, when the target names a port by name, or when the slices list no port.
   */
  @Nullable
  static String portNotAmongPods(Collection<EndpointSlice> slices, String service, int portNumber) {
    if (portNumber <= 0) {
      return null;
    }
    Map<String, Integer> ports = new TreeMap<>();
    for (EndpointSlice slice : slices) {
      for (EndpointPort port :
          slice.getPorts() == null ? List.<EndpointPort>of() : slice.getPorts()) {
        if (port.getPort() == null) {
          continue;
        }
        if (port.getPort() == portNumber) {
          return null;
        }
        String name =
            port.getName() == null || port.getName().isEmpty() ? "(unnamed)" : port.getName();
        ports.put(name + "=" + port.getPort(), port.getPort());
      }
    }
    if (ports.isEmpty()) {
      return null;
    }
    return portNumber
        + " is not a port of the pods of "
        + service
        + "; their ports: "
        + String.join(", ", ports.keySet())
        + "; give the port name or the pod port (a Service port is not dialed: clients connect to"
        + " pods directly), unless the pods listen on "
        + portNumber
        + " without the Service listing it";
  }

  /**
   * Which pod an address belongs to: its targetRef (a dual-stack Service lists each pod once in an
   * IPv4 slice and once in an IPv6 slice, with the same targetRef), else its hostname, else the
   * address alone.
   */
  private static String podKey(Endpoint endpoint, InetSocketAddress address) {
    ObjectReference ref = endpoint.getTargetRef();
    if (ref != null && ref.getUid() != null && !ref.getUid().isEmpty()) {
      return "uid:" + ref.getUid();
    }
    if (ref != null && ref.getName() != null && !ref.getName().isEmpty()) {
      return "ref:" + ref.getKind() + "/" + ref.getNamespace() + "/" + ref.getName();
    }
    if (endpoint.getHostname() != null && !endpoint.getHostname().isEmpty()) {
      return "host:" + endpoint.getHostname();
    }
    return "ip:" + address;
  }

  /**
   * One pod's addresses (IPv4 first, then IPv6: the order in which a subchannel tries them, the
   * JDK's default preference) with the best condition any slice gives it: an endpoint can sit in
   * two slices for a moment, with the older condition in one of them.
   */
  private static final class PodEndpoint {
    final List<InetSocketAddress> ipv4 = new ArrayList<>(1);
    final List<InetSocketAddress> ipv6 = new ArrayList<>(1);
    EndpointCondition condition;
    @Nullable String zone;
    Set<String> zoneHints = Set.of();
    Set<String> nodeHints = Set.of();

    PodEndpoint(EndpointCondition condition) {
      this.condition = condition;
    }

    void add(InetSocketAddress address, EndpointCondition condition, Endpoint endpoint) {
      List<InetSocketAddress> family = address.getAddress() instanceof Inet6Address ? ipv6 : ipv4;
      if (!family.contains(address)) {
        family.add(address);
      }
      if (this.condition != EndpointCondition.READY) {
        this.condition = condition;
      }
      if (zone == null) {
        zone = endpoint.getZone();
      }
      EndpointHints hints = endpoint.getHints();
      if (hints != null) {
        zoneHints = withNames(zoneHints, hints.getForZones(), ForZone::getName);
        nodeHints = withNames(nodeHints, hints.getForNodes(), ForNode::getName);
      }
    }

    EquivalentAddressGroup toGroup() {
      List<SocketAddress> addresses = new ArrayList<>(ipv4.size() + ipv6.size());
      addSorted(addresses, ipv4);
      addSorted(addresses, ipv6);
      return new EquivalentAddressGroup(
          addresses, EndpointAttributes.of(condition, zone, zoneHints, nodeHints));
    }

    private static void addSorted(List<SocketAddress> to, List<InetSocketAddress> from) {
      if (from.size() > 1) {
        from.sort(ADDRESS_ORDER);
      }
      to.addAll(from);
    }

    private static <T> Set<String> withNames(
        Set<String> names, List<T> items, Function<T, String> name) {
      if (items == null || items.isEmpty()) {
        return names;
      }
      Set<String> more = names.isEmpty() ? new LinkedHashSet<>() : names;
      for (T item : items) {
        if (name.apply(item) != null) {
          more.add(name.apply(item));
        }
      }
      return more;
    }
  }

  private static final Comparator<InetSocketAddress> ADDRESS_ORDER =
      Comparator.comparing((InetSocketAddress a) -> a.getAddress().getHostAddress())
          .thenComparingInt(InetSocketAddress::getPort);

  /** The pod port this slice gives for the target's port, or null when it has none. */
  @Nullable
  private static Integer port(
      EndpointSlice slice, @Nullable String portName, int portNumber, Set<String> namesSeen) {
    List<EndpointPort> ports = slice.getPorts() == null ? List.of() : slice.getPorts();
    for (EndpointPort port : ports) {
      namesSeen.add(
          port.getName() == null || port.getName().isEmpty() ? "(unnamed)" : port.getName());
    }
    if (portName == null) {
      if (portNumber > 0) {
        return portNumber;
      }
      return ports.size() == 1 ? ports.get(0).getPort() : null;
    }
    for (EndpointPort port : ports) {
      if (portName.equals(port.getName()) && port.getPort() != null) {
        return port.getPort();
      }
    }
    return null;
  }

  @Nullable
  static EndpointCondition condition(@Nullable EndpointConditions conditions) {
    Boolean readyFlag = conditions == null ? null : conditions.getReady();
    Boolean servingFlag = conditions == null ? null : conditions.getServing();
    Boolean terminatingFlag = conditions == null ? null : conditions.getTerminating();
    boolean ready = readyFlag == null || readyFlag;
    boolean serving = servingFlag == null ? ready : servingFlag;
    boolean terminating = terminatingFlag != null && terminatingFlag;
    if (ready && !terminating) {
      return EndpointCondition.READY;
    }
    if (serving && terminating) {
      return EndpointCondition.TERMINATING_SERVING;
    }
    return ready ? EndpointCondition.READY : null;
  }

  @Nullable
  private static InetSocketAddress address(@Nullable String ip, int port) {
    if (ip == null || !IP_LITERAL.matcher(ip).matches() || port < 1 || port > 65535) {
      return null;
    }
    try {
      return new InetSocketAddress(InetAddress.getByName(ip), port); // a literal: no lookup
    } catch (UnknownHostException e) {
      return null;
    }
  }
}
