package io.github.kubegrpclb.dns;

import io.github.kubegrpclb.core.internal.PolicySelection;
import io.github.kubegrpclb.core.internal.PortSpec;
import io.github.kubegrpclb.core.internal.TargetScheme;
import io.github.kubegrpclb.core.internal.TargetUri;
import io.github.kubegrpclb.dns.HeadlessDnsOptions.AddressFamily;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import javax.annotation.Nullable;

/**
 * A parsed {@code headless://[dns-server[:port]]/host:(port|port-name)[?family=..&policy=..]}
 * target. Immutable.
 */
final class HeadlessTarget {
  static final TargetScheme SCHEME =
      new TargetScheme(
          "headless",
          "headless://[dns-server-ip[:port]]/<host>:<pod-port or port-name>"
              + "[?family=auto|ipv4|ipv6|both&policy=<lb policy>|channel],"
              + " e.g. headless:///my-svc.my-ns.svc.cluster.local:grpc");

  /** DNS label rules for host names. */
  private static final Pattern HOST =
      Pattern.compile("(?i)[a-z0-9_]([a-z0-9_-]{0,62})(\\.[a-z0-9_]([a-z0-9_-]{0,62}))*\\.?");

  final String host;
  final int port; // 0 when portName is set
  @Nullable final String portName;
  @Nullable final InetSocketAddress dnsServer; // null: the system's
  final AddressFamily family;
  final String policy;

  private HeadlessTarget(
      String host,
      int port,
      @Nullable String portName,
      @Nullable InetSocketAddress dnsServer,
      AddressFamily family,
      String policy) {
    this.host = host;
    this.port = port;
    this.portName = portName;
    this.dnsServer = dnsServer;
    this.family = family;
    this.policy = policy;
  }

  /**
   * Parses the parts of a target URI.
   *
   * @throws IllegalArgumentException naming the target, the problem and the expected form
   */
  static HeadlessTarget parse(TargetUri uri, HeadlessDnsOptions options) {
    return SCHEME.parse(uri, u -> parseParts(u, options));
  }

  private static HeadlessTarget parseParts(TargetUri uri, HeadlessDnsOptions options) {
    String path = uri.path();
    if (path == null || !path.startsWith("/") || path.length() < 2) {
      throw new IllegalArgumentException("no host in the path");
    }
    String hostPort = path.substring(1);
    int colon = hostPort.lastIndexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException(
          "no port: with a headless Service the client dials the pod's port, not the Service"
              + " port, so the target must name it");
    }
    String host = hostPort.substring(0, colon);
    String portPart = hostPort.substring(colon + 1);
    if (!HOST.matcher(host).matches()) {
      throw new IllegalArgumentException("'" + host + "' is not a DNS name");
    }
    PortSpec port = PortSpec.parse(portPart);
    Map<String, String> parameters = uri.parameters(Set.of("family", "policy"));
    AddressFamily family =
        parameters.containsKey("family") ? parseFamily(parameters.get("family")) : options.family();
    String policy = PolicySelection.choose(parameters.get("policy"), options.policy());
    InetSocketAddress server =
        uri.authority() == null ? options.dnsServer() : parseServer(uri.authority());
    return new HeadlessTarget(host, port.number(), port.name(), server, family, policy);
  }

  /** The authority RPCs carry: the host, plus the port when it is a number. */
  String serviceAuthority() {
    String bare = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
    return portName == null ? bare + ":" + port : bare;
  }

  @Override
  public String toString() {
    return SCHEME.name()
        + "://"
        + (dnsServer == null ? "" : dnsServer.getHostString() + ":" + dnsServer.getPort())
        + "/"
        + host
        + ":"
        + (portName == null ? String.valueOf(port) : portName);
  }

  private static AddressFamily parseFamily(String value) {
    try {
      return AddressFamily.valueOf(value.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "family=" + value + " (expected: auto, ipv4, ipv6 or both)", e);
    }
  }

  private static InetSocketAddress parseServer(String authority) {
    String host = authority;
    int port = 53;
    if (authority.startsWith("[")) {
      int close = authority.indexOf(']');
      if (close < 0) {
        throw new IllegalArgumentException("DNS server '" + authority + "' has no closing ']'");
      }
      host = authority.substring(1, close);
      if (authority.length() > close + 1) {
        if (authority.charAt(close + 1) != ':') {
          throw new IllegalArgumentException("DNS server '" + authority + "'");
        }
        port = PortSpec.parseNumber(authority.substring(close + 2));
      }
    } else if (authority.indexOf(':') >= 0) {
      host = authority.substring(0, authority.indexOf(':'));
      port = PortSpec.parseNumber(authority.substring(authority.indexOf(':') + 1));
    }
    if (!isIpLiteral(host)) {
      throw new IllegalArgumentException("DNS server '" + host + "' must be an IP address");
    }
    try {
      return new InetSocketAddress(InetAddress.getByName(host), port); // a literal: no lookup
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException("DNS server '" + host + "' must be an IP address", e);
    }
  }

  private static boolean isIpLiteral(String host) {
    return host.matches("\\d{1,3}(\\.\\d{1,3}){3}")
        || (host.contains(":") && host.matches("[0-9a-fA-F:.]+"));
  }
}
