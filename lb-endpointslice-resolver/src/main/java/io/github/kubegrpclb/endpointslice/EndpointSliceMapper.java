package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.ForZone;
import io.github.kubegrpclb.core.EndpointAttributes;
import io.github.kubegrpclb.core.EndpointCondition;
import io.grpc.EquivalentAddressGroup;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Turns all EndpointSlices of one Service into address groups: the union of every slice (a slice
 * holds at most 100 endpoints by default), de-duplicated, one group per pod address, carrying the
 * endpoint's condition, zone and zone hints. Stateless.
 *
 * <p>Conditions follow the EndpointSlice API: {@code ready} unset means ready; {@code serving}
 * unset means the same as ready; {@code terminating} unset means false. Ready endpoints are in
 * rotation; serving and terminating ones are a fallback; the rest are left out. A named port is
 * resolved per slice, since pods behind one Service can use different target ports.
 */
final class EndpointSliceMapper {
  private static final Pattern IP_LITERAL = Pattern.compile("[0-9a-fA-F:.]+");

  private EndpointSliceMapper() {}

  /** The endpoints, or an error naming what is wrong (e.g. an unknown port name). */
  static final class Result {
    final List<EquivalentAddressGroup> groups;
    final String error;

    private Result(List<EquivalentAddressGroup> groups, String error) {
      this.groups = groups;
      this.error = error;
    }
  }

  /**
   * @param portName the port's name, or null for {@code portNumber}
   * @param portNumber the pod port when no name is given; 0 for the slices' only port
   */
  static Result map(
      Collection<EndpointSlice> slices, String service, String portName, int portNumber) {
    Map<InetSocketAddress, EquivalentAddressGroup> byAddress = new HashMap<>();
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
          if (address == null) {
            continue;
          }
          EquivalentAddressGroup existing = byAddress.get(address);
          if (existing == null
              || EndpointAttributes.conditionOf(existing) != EndpointCondition.READY) {
            byAddress.put(
                address,
                new EquivalentAddressGroup(
                    address,
                    EndpointAttributes.of(condition, endpoint.getZone(), hints(endpoint))));
          }
        }
      }
    }
    if (anyEndpoint && !portFound) {
      String wanted =
          portName != null
              ? "port name '" + portName + "'"
              : "a port (the target names none and the Service has several)";
      return new Result(
          List.of(),
          wanted
              + " is not among the ports of the EndpointSlices of "
              + service
              + "; ports there: "
              + portNames
              + " (use one of these names, or the pod's port number)");
    }
    // A stable order (slices come in any order) keeps equal sets equal for the balancer.
    TreeMap<String, EquivalentAddressGroup> sorted = new TreeMap<>();
    byAddress.forEach(
        (address, group) ->
            sorted.put(address.getAddress().getHostAddress() + "#" + address.getPort(), group));
    return new Result(List.copyOf(sorted.values()), null);
  }

  /** The pod port this slice gives for the target's port, or null when it has none. */
  private static Integer port(
      EndpointSlice slice, String portName, int portNumber, Set<String> namesSeen) {
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

  static EndpointCondition condition(EndpointConditions conditions) {
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

  private static Set<String> hints(Endpoint endpoint) {
    if (endpoint.getHints() == null || endpoint.getHints().getForZones() == null) {
      return Set.of();
    }
    Set<String> zones = new LinkedHashSet<>();
    for (ForZone zone : endpoint.getHints().getForZones()) {
      if (zone.getName() != null) {
        zones.add(zone.getName());
      }
    }
    return zones;
  }

  private static InetSocketAddress address(String ip, int port) {
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
