package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.NameResolver;
import java.util.Objects;

/**
 * Options of the EndpointSlice resolver, passed per channel with {@code
 * ManagedChannelBuilder.setNameResolverArg(EndpointSliceOptions.KEY, options)}. Target parameters
 * ({@code ?policy=}, {@code ?zone=}) win over the same options set here.
 *
 * <p>Immutable and thread-safe.
 */
public final class EndpointSliceOptions {
  /** The name-resolver argument key for these options. */
  public static final NameResolver.Args.Key<EndpointSliceOptions> KEY =
      NameResolver.Args.Key.create("io.github.kubegrpclb.endpointslice.options");

  /** Environment variable holding the client's zone, e.g. set from the downward API. */
  public static final String ZONE_ENV = "KUBE_GRPC_LB_ZONE";

  private final KubernetesClient client;
  private final String policy;
  private final String clientZone;

  private EndpointSliceOptions(Builder b) {
    this.client = b.client;
    this.policy = b.policy;
    this.clientZone = b.clientZone;
  }

  public static Builder builder() {
    return new Builder();
  }

  static EndpointSliceOptions defaults() {
    return builder().build();
  }

  /** The client to watch with, or null for the library's one per JVM. */
  public KubernetesClient client() {
    return client;
  }

  /** The load-balancing policy, or null for the default ({@code kube_round_robin}). */
  public String policy() {
    return policy;
  }

  /** The client's zone, or null to read {@value #ZONE_ENV}. */
  public String clientZone() {
    return clientZone;
  }

  /** Builds {@link EndpointSliceOptions}; not thread-safe. */
  public static final class Builder {
    private KubernetesClient client;
    private String policy;
    private String clientZone;

    private Builder() {}

    /**
     * Watches with this client (its credentials, namespace and HTTP settings). The caller keeps
     * ownership: the resolver never closes it.
     */
    public Builder client(KubernetesClient client) {
      this.client = Objects.requireNonNull(client, "client");
      return this;
    }

    /**
     * The load-balancing policy the resolver asks for: a registered policy name, or {@code
     * "channel"} to use the channel's own default service config. Default: kube_round_robin.
     */
    public Builder policy(String policy) {
      this.policy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /** The client's zone, for zone-aware routing with topology hints. */
    public Builder clientZone(String clientZone) {
      this.clientZone = Objects.requireNonNull(clientZone, "clientZone");
      return this;
    }

    public EndpointSliceOptions build() {
      return new EndpointSliceOptions(this);
    }
  }
}
