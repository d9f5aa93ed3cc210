package io.github.kubegrpclb.endpointslice;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import javax.annotation.Nullable;

/**
 * What the client's pod says about itself: its namespace (the service-account namespace file), its
 * zone and node, its own Service, name and IP (environment variables, set from the downward API).
 * Read once, when the provider is created, so that creating a resolver (on every exit from idle,
 * inside the channel's SynchronizationContext) touches neither the file system nor the environment.
 * Immutable.
 */
final class PodEnvironment {
  static final Path NAMESPACE_FILE =
      Path.of("/var/run/secrets/kubernetes.io/serviceaccount/namespace");

  /** The pod's namespace, or null outside a pod. */
  @Nullable final String namespace;

  /** The client's zone from {@value EndpointSliceOptions#ZONE_ENV}, or null. */
  @Nullable final String zone;

  /** The client's node from {@value EndpointSliceOptions#NODE_ENV}, or null. */
  @Nullable final String node;

  /** The client's own Service from {@value EndpointSliceOptions#CLIENT_SERVICE_ENV}, or null. */
  @Nullable final String clientService;

  /**
   * The pod's name from {@value EndpointSliceOptions#POD_NAME_ENV}, else {@code HOSTNAME} (the pod
   * name unless the pod sets {@code spec.hostname}), or null.
   */
  @Nullable final String podName;

  /** The pod's IP from {@value EndpointSliceOptions#POD_IP_ENV}, or null. */
  @Nullable final String podIp;

  private PodEnvironment(
      @Nullable String namespace,
      @Nullable String zone,
      @Nullable String node,
      @Nullable String clientService,
      @Nullable String podName,
      @Nullable String podIp) {
    this.namespace = namespace;
    this.zone = zone;
    this.node = node;
    this.clientService = clientService;
    this.podName = podName;
    this.podIp = podIp;
  }

  /** This process's environment and namespace file. */
  static PodEnvironment system() {
    return read(System::getenv, NAMESPACE_FILE);
  }

  static PodEnvironment read(UnaryOperator<String> getenv, Path namespaceFile) {
    String podName = blankToNull(getenv.apply(EndpointSliceOptions.POD_NAME_ENV));
    return new PodEnvironment(
        readFile(namespaceFile),
        blankToNull(getenv.apply(EndpointSliceOptions.ZONE_ENV)),
        blankToNull(getenv.apply(EndpointSliceOptions.NODE_ENV)),
        blankToNull(getenv.apply(EndpointSliceOptions.CLIENT_SERVICE_ENV)),
        podName != null ? podName : blankToNull(getenv.apply("HOSTNAME")),
        blankToNull(getenv.apply(EndpointSliceOptions.POD_IP_ENV)));
  }

  @Nullable
  private static String readFile(Path file) {
    if (!Files.isReadable(file)) {
      return null;
    }
    try {
      return blankToNull(Files.readString(file, StandardCharsets.UTF_8));
    } catch (IOException e) {
      return null; // unreadable: as outside a pod
    }
  }

  /**
   * Null for null or blank: the downward API sets an empty value for a label the pod does not have,
   * e.g. {@code topology.kubernetes.io/zone} on clusters that do not copy it to pods.
   */
  @Nullable
  static String blankToNull(@Nullable String value) {
    return value == null || value.isBlank() ? null : value.trim();
  }
}
