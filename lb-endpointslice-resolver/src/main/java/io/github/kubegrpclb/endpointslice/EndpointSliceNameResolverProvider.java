package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.github.kubegrpclb.core.internal.PolicySelection;
import io.github.kubegrpclb.core.internal.TargetUri;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;

/**
 * Registers the {@code kubernetes} scheme: a gRPC name resolver that watches the Service's
 * EndpointSlices through the Kubernetes API (fabric8 client, JDK HTTP transport).
 *
 * <pre>
 * kubernetes:///my-svc.my-ns:grpc     port name, resolved from the slices (the pod's port)
 * kubernetes:///my-svc.my-ns:50051    the pod's port
 * kubernetes:///my-svc:grpc           the pod's own namespace (service account), else the client's
 * kubernetes://my-ns/my-svc:grpc      namespace as authority
 * ...?policy=peak_ewma                load-balancing policy (default kube_round_robin; 'channel'
 *                                     defers to the channel's defaultServiceConfig)
 * ...?zone=eu-west-1a                 this client's zone, for topology hints (else env
 *                                     KUBE_GRPC_LB_ZONE)
 * </pre>
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
  private static final Path POD_NAMESPACE_FILE =
      Path.of("/var/run/secrets/kubernetes.io/serviceaccount/namespace");

  /** Creates the provider; called by the service loader. */
  public EndpointSliceNameResolverProvider() {}

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
    String namespace = target.namespace != null ? target.namespace : defaultNamespace(client);
    String zone = target.zone;
    if (zone == null) {
      zone = options.clientZone();
    }
    if (zone == null) {
      String env = System.getenv(EndpointSliceOptions.ZONE_ENV);
      zone = env == null || env.isBlank() ? null : env.trim();
    }
    return new EndpointSliceNameResolver(
        target,
        namespace,
        client,
        ServiceWatches.SHARED,
        PolicySelection.serviceConfig(
            target.policy, options.policy(), options.policyConfig(), args.getServiceConfigParser()),
        zone,
        args.getSynchronizationContext(),
        args.getChannelLogger());
  }

  private static String defaultNamespace(KubernetesClient client) {
    if (Files.isReadable(POD_NAMESPACE_FILE)) {
      try {
        String namespace = Files.readString(POD_NAMESPACE_FILE, StandardCharsets.UTF_8).trim();
        if (!namespace.isEmpty()) {
          return namespace;
        }
      } catch (IOException e) {
        // fall through to the client's namespace
      }
    }
    String namespace = client.getNamespace();
    return namespace == null || namespace.isEmpty() ? "default" : namespace;
  }

  /** The library's KubernetesClient, created on first use and shared by the whole JVM. */
  private static final class DefaultClient {
    private static final KubernetesClient INSTANCE = new KubernetesClientBuilder().build();

    static KubernetesClient get() {
      return INSTANCE;
    }
  }
}
