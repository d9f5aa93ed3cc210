package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.github.kubegrpclb.core.EndpointAttributes;
import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.core.internal.PolicySelection;
import io.github.kubegrpclb.core.internal.ResolverObserver;
import io.github.kubegrpclb.core.internal.TargetUri;
import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.Collection;
import java.util.List;
import javax.annotation.Nullable;

/**
 * Registers the {@code kubernetes} scheme: a gRPC name resolver that watches the Service's
 * EndpointSlices through the Kubernetes API (fabric8 client, JDK HTTP transport).
 *
 * <pre>
 * kubernetes:///my-svc.my-ns:grpc     port name, resolved from the slices (the pod's port)
 * kubernetes:///my-svc.my-ns:50051    the pod's port
 * kubernetes:///my-svc.my-ns.svc.cluster.local:grpc   the same; the authority (TLS name) is the
 *                                     host as written
 * kubernetes:///my-svc:grpc           the namespace of a caller's client, else the pod's own
 *                                     (service account), else the kubeconfig context's
 * kubernetes://my-ns/my-svc:grpc      namespace as authority (channel authority my-svc.my-ns)
 * ...?policy=peak_ewma                load-balancing policy (default kube_round_robin; 'channel'
 *                                     defers to the channel's defaultServiceConfig)
 * ...?zone=eu-west-1a                 this client's zone, for topology hints (else
 *                                     EndpointSliceOptions, else env KUBE_GRPC_LB_ZONE)
 * </pre>
 *
 * <p>The client's node, for {@code PreferSameNode} node hints, comes from {@link
 * EndpointSliceOptions.Builder#clientNode} or env {@code KUBE_GRPC_LB_NODE} (the downward API's
 * {@code spec.nodeName}). With the client's own Service named ({@link
 * EndpointSliceOptions.Builder#clientService} or env {@code KUBE_GRPC_LB_CLIENT_SERVICE}), the
 * resolver also watches it and publishes this pod's position among its pods as the client index for
 * deterministic subsetting. The environment and the namespace file are read once per provider.
 *
 * <p>The client needs, in the Service's namespace:
 *
 * <pre>
 * apiVersion: rbac.authorization.k8s.io/v1
 * kind: Role
 * metadata: {name: endpointslice-reader, namespace: my-ns}
 * rules:
 * - apiGroups: ["discovery.k8s.io"]
 *   resources: ["endpointslices"]
 *   verbs: ["get", "list", "watch"]
 * </pre>
 *
 * bound to its service account with a RoleBinding. One KubernetesClient per JVM is created on first
 * use (in a pod: service-account token and CA; elsewhere: kubeconfig), unless a channel passes its
 * own through {@link EndpointSliceOptions}.
 */
public final class EndpointSliceNameResolverProvider extends NameResolverProvider {
  private final PodEnvironment pod;

  /** Creates the provider; called by the service loader. */
  public EndpointSliceNameResolverProvider() {
    this(PodEnvironment.system());
  }

  EndpointSliceNameResolverProvider(PodEnvironment pod) {
    this.pod = pod;
  }

  @Override
  protected boolean isAvailable() {
    return true;
  }

  @Override
  protected int priority() {
    return 5;
  }

  @Override
  public String getDefaultScheme() {
    return KubernetesTarget.SCHEME.name();
  }

  @Override
  public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
    return List.of(InetSocketAddress.class);
  }

  @Override
  @Nullable // for another scheme
  public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
    return KubernetesTarget.SCHEME.newNameResolver(targetUri, args, this::create);
  }

  private NameResolver create(TargetUri uri, NameResolver.Args args) {
    EndpointSliceOptions options = args.getArg(EndpointSliceOptions.KEY);
    if (options == null) {
      options = EndpointSliceOptions.defaults();
    }
    KubernetesTarget target = KubernetesTarget.parse(uri, options);
    KubernetesClient client = options.client() != null ? options.client() : DefaultClient.get();
    String namespace = target.namespace;
    if (namespace == null) {
      namespace = defaultNamespace(options.client() != null ? client : null);
    }
    Attributes.Builder locality =
        Attributes.newBuilder()
            .set(
                LbTelemetry.ATTRIBUTE,
                options.telemetry() == null ? LbTelemetry.global() : options.telemetry())
            .set(ResolverObserver.TARGET_TEXT, uri.text());
    String zone = firstNonNull(target.zone, options.clientZone(), pod.zone);
    if (zone != null) {
      locality.set(EndpointAttributes.CLIENT_ZONE, zone);
    }
    String node = firstNonNull(options.clientNode(), pod.node);
    if (node != null) {
      locality.set(EndpointAttributes.CLIENT_NODE, node);
    }
    return new EndpointSliceNameResolver(
        target,
        namespace,
        client,
        ServiceWatches.SHARED,
        PolicySelection.serviceConfig(
            target.policy,
            options.policy(),
            options.policyConfig(),
            options.serviceConfig(),
            "EndpointSliceOptions.serviceConfig",
            args.getServiceConfigParser()),
        locality.build(),
        clientPod(options, client, args),
        options.idleWatchGrace(),
        System::nanoTime,
        args);
  }

  /**
   * The client's own Service and pod, when the option or the environment names the Service; null
   * otherwise, and then the resolver watches nothing more.
   */
  @Nullable
  private ClientIndexWatch.ClientPod clientPod(
      EndpointSliceOptions options, KubernetesClient client, NameResolver.Args args) {
    String service = options.clientService();
    if (service == null) {
      service = pod.clientService;
      if (service == null) {
        return null;
      }
      if (!KubernetesTarget.isLabel(service)) {
        throw new IllegalArgumentException(
            "env "
                + EndpointSliceOptions.CLIENT_SERVICE_ENV
                + "='"
                + service
                + "' is not a Service name (expected an RFC 1123 label: lowercase letters,"
                + " digits and '-', e.g. my-client; the name of the client pod's own Service, in"
                + " its namespace)");
      }
    }
    if (pod.podName == null && pod.podIp == null) {
      args.getChannelLogger()
          .log(
              ChannelLogger.ChannelLogLevel.WARNING,
              "client Service {0} is set, but this pod's name and IP are unknown: set env {1}"
                  + " (downward API metadata.name) or {2} (status.podIP); no client index",
              service,
              EndpointSliceOptions.POD_NAME_ENV,
              EndpointSliceOptions.POD_IP_ENV);
      return null;
    }
    return new ClientIndexWatch.ClientPod(
        defaultNamespace(options.client() != null ? client : null),
        service,
        pod.podName,
        pod.podIp);
  }

  /**
   * The namespace of a target that names none: a caller's client's own namespace; else this pod's
   * (service-account file); else the library client's (kubeconfig context); else "default".
   */
  private String defaultNamespace(@Nullable KubernetesClient callersClient) {
    String namespace =
        callersClient == null ? null : PodEnvironment.blankToNull(callersClient.getNamespace());
    if (namespace == null) {
      namespace = pod.namespace;
    }
    if (namespace == null && callersClient == null) {
      namespace = DefaultClient.NAMESPACE;
    }
    return namespace == null ? "default" : namespace;
  }

  @Nullable
  private static String firstNonNull(@Nullable String... values) {
    for (String value : values) {
      if (value != null) {
        return value;
      }
    }
    return null;
  }

  /** The library's KubernetesClient, created on first use and shared by the whole JVM. */
  private static final class DefaultClient {
    private static final KubernetesClient INSTANCE = new KubernetesClientBuilder().build();

    @Nullable
    private static final String NAMESPACE = PodEnvironment.blankToNull(INSTANCE.getNamespace());

    static KubernetesClient get() {
      return INSTANCE;
    }
  }
}
