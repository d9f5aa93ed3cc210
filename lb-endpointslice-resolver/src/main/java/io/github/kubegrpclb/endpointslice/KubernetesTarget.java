package io.github.kubegrpclb.endpointslice;

import io.github.kubegrpclb.core.internal.PolicySelection;
import io.github.kubegrpclb.core.internal.PortSpec;
import io.github.kubegrpclb.core.internal.TargetScheme;
import io.github.kubegrpclb.core.internal.TargetUri;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import javax.annotation.Nullable;

/**
 * A parsed {@code kubernetes:///svc[.ns][:port]} or {@code kubernetes://ns/svc[:port]} target, the
 * syntax of Go's kuberesolver. Immutable.
 */
final class KubernetesTarget {
  static final TargetScheme SCHEME =
      new TargetScheme(
          "kubernetes",
          "kubernetes:///<service>[.<namespace>][:<port-name or pod-port>] or"
              + " kubernetes://<namespace>/<service>[:<port>], optional ?policy=<lb policy>|channel"
              + "&zone=<client zone>, e.g. kubernetes:///my-svc.my-ns:grpc");

  /** RFC 1123 label: Service and namespace names. */
  private static final Pattern LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

  final String service;
  final String host; // as written: my-svc, my-svc.my-ns, my-svc.my-ns.svc.cluster.local
  @Nullable final String namespace; // null: the pod's or the client's namespace
  @Nullable final String portName; // null: portNumber (0: the Service's only port)
  final int portNumber;
  final String policy;
  @Nullable final String zone; // null: from options or environment

  private KubernetesTarget(
      String service,
      String host,
      @Nullable String namespace,
      @Nullable String portName,
      int portNumber,
      String policy,
      @Nullable String zone) {
    this.service = service;
    this.host = host;
    this.namespace = namespace;
    this.portName = portName;
    this.portNumber = portNumber;
    this.policy = policy;
    this.zone = zone;
  }

  static KubernetesTarget parse(TargetUri uri, EndpointSliceOptions options) {
    return SCHEME.parse(uri, u -> parseParts(u, options));
  }

  private static KubernetesTarget parseParts(TargetUri uri, EndpointSliceOptions options) {
    String path = uri.path();
    String authority = uri.authority();
    if (path == null || !path.startsWith("/") || path.length() < 2) {
      throw new IllegalArgumentException("no service in the path");
    }
    String rest = path.substring(1);
    String portPart = null;
    int colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      portPart = rest.substring(colon + 1);
      rest = rest.substring(0, colon);
    }
    String namespace = authority;
    String service = rest;
    String host = rest.endsWith(".") ? rest.substring(0, rest.length() - 1) : rest;
    if (authority != null) {
      host = rest + "." + authority;
    }
    int dot = rest.indexOf('.');
    if (dot >= 0) {
      if (namespace != null) {
        throw new IllegalArgumentException(
            "the namespace is given twice ('" + namespace + "' and in '" + rest + "')");
      }
      service = rest.substring(0, dot);
      String afterService = rest.substring(dot + 1);
      int nextDot = afterService.indexOf('.');
      namespace = nextDot < 0 ? afterService : afterService.substring(0, nextDot);
      String afterNamespace = nextDot < 0 ? "" : afterService.substring(nextDot + 1);
      if (nextDot >= 0 && !afterNamespace.equals("svc") && !afterNamespace.startsWith("svc.")) {
        throw new IllegalArgumentException(
            "'" + rest + "' is not <service>.<namespace>[.svc[.<cluster-domain>]]");
      }
    }
    if (!LABEL.matcher(service).matches()) {
      throw new IllegalArgumentException(
          "'" + service + "' is not a Service name (RFC 1123 label)");
    }
    if (namespace != null && !LABEL.matcher(namespace).matches()) {
      throw new IllegalArgumentException(
          "'" + namespace + "' is not a namespace name (RFC 1123 label)");
    }
    PortSpec port = portPart == null ? null : PortSpec.parse(portPart);
    Map<String, String> parameters = uri.parameters(Set.of("policy", "zone"));
    String policy = PolicySelection.choose(parameters.get("policy"), options.policy());
    String zone = parameters.get("zone");
    return new KubernetesTarget(
        service,
        host,
        namespace,
        port == null ? null : port.name(),
        port == null ? 0 : port.number(),
        policy,
        zone);
  }

  /** True if {@code name} can name a Service or namespace (an RFC 1123 label). */
  static boolean isLabel(String name) {
    return LABEL.matcher(name).matches();
  }

  /**
   * The channel's authority: the host as written, plus the port when it is a number (a port name
   * means nothing to the server). It is what TLS verifies the server's certificate against.
   */
  String authority() {
    return portNumber > 0 ? host + ":" + portNumber : host;
  }
}
