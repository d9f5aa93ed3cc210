package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.core.internal.PolicySelection;
import io.github.kubegrpclb.core.internal.UserServiceConfig;
import io.grpc.NameResolver;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import javax.annotation.Nullable;

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

  /**
   * Environment variable holding the client's zone, e.g. set from the downward API's {@code
   * metadata.labels['topology.kubernetes.io/zone']} where the cluster labels pods with their zone.
   */
  public static final String ZONE_ENV = "KUBE_GRPC_LB_ZONE";

  /**
   * Environment variable holding the client's node, set from the downward API's {@code
   * spec.nodeName}, for {@code trafficDistribution: PreferSameNode}.
   */
  public static final String NODE_ENV = "KUBE_GRPC_LB_NODE";

  /**
   * Environment variable naming the client's own Service (in the client pod's namespace), whose
   * EndpointSlices give the client its index for deterministic subsetting: see {@link
   * Builder#clientService}.
   */
  public static final String CLIENT_SERVICE_ENV = "KUBE_GRPC_LB_CLIENT_SERVICE";

  /**
   * Environment variable holding the client pod's name, set from the downward API's {@code
   * metadata.name}; without it, {@code HOSTNAME} (the pod name unless the pod sets {@code
   * spec.hostname}).
   */
  public static final String POD_NAME_ENV = "KUBE_GRPC_LB_POD_NAME";

  /**
   * Environment variable holding the client pod's IP, set from the downward API's {@code
   * status.podIP}: finds the pod among its Service's endpoints when its name does not.
   */
  public static final String POD_IP_ENV = "KUBE_GRPC_LB_POD_IP";

  @Nullable private final KubernetesClient client;
  @Nullable private final String policy;
  private final Map<String, ?> policyConfig;
  private final Map<String, ?> serviceConfig;
  @Nullable private final String clientZone;
  @Nullable private final String clientNode;
  @Nullable private final String clientService;
  @Nullable private final LbTelemetry telemetry;
  private final Duration idleWatchGrace;

  /** How long a watch no channel holds is kept by default: see {@link Builder#idleWatchGrace}. */
  public static final Duration DEFAULT_IDLE_WATCH_GRACE = Duration.ofMinutes(5);

  private static final Duration MIN_IDLE_WATCH_GRACE = Duration.ofSeconds(1);
  private static final Duration MAX_IDLE_WATCH_GRACE = Duration.ofDays(1);

  private EndpointSliceOptions(Builder b) {
    this.idleWatchGrace = b.idleWatchGrace;
    this.telemetry = b.telemetry;
    this.client = b.client;
    this.policy = b.policy;
    this.policyConfig = b.policyConfig;
    this.serviceConfig = b.serviceConfig;
    this.clientZone = b.clientZone;
    this.clientNode = b.clientNode;
    this.clientService = b.clientService;
  }

  public static Builder builder() {
    return new Builder();
  }

  static EndpointSliceOptions defaults() {
    return builder().build();
  }

  /** The client to watch with, or null for the library's one per JVM. */
  @Nullable
  public KubernetesClient client() {
    return client;
  }

  /** The load-balancing policy, or null for the default ({@code kube_round_robin}). */
  @Nullable
  public String policy() {
    return policy;
  }

  /** The policy's config (its service-config JSON object), empty for its defaults. */
  public Map<String, ?> policyConfig() {
    return policyConfig;
  }

  /**
   * The application's service config that the resolver returns with its policy (method configs,
   * retry throttling, health checking), empty for none.
   */
  public Map<String, ?> serviceConfig() {
    return serviceConfig;
  }

  /** The client's zone, or null to read {@value #ZONE_ENV}. */
  @Nullable
  public String clientZone() {
    return clientZone;
  }

  /** Where metrics go, or null for {@link LbTelemetry#global()}. */
  @Nullable
  public LbTelemetry telemetry() {
    return telemetry;
  }

  /** The client's node, or null to read {@value #NODE_ENV}. */
  @Nullable
  public String clientNode() {
    return clientNode;
  }

  /** The client's own Service, or null to read {@value #CLIENT_SERVICE_ENV}. */
  @Nullable
  public String clientService() {
    return clientService;
  }

  /**
   * How long a Service's watch is kept after the last channel using it lets go of it: see {@link
   * Builder#idleWatchGrace}.
   */
  public Duration idleWatchGrace() {
    return idleWatchGrace;
  }

  /** Builds {@link EndpointSliceOptions}; not thread-safe. */
  public static final class Builder {
    @Nullable private KubernetesClient client;
    @Nullable private String policy;
    private Map<String, ?> policyConfig = Map.of();
    private Map<String, ?> serviceConfig = Map.of();
    @Nullable private String clientZone;
    @Nullable private String clientNode;
    @Nullable private String clientService;
    @Nullable private LbTelemetry telemetry;
    private Duration idleWatchGrace = DEFAULT_IDLE_WATCH_GRACE;

    private Builder() {}

    /**
     * How long the watch of a Service's EndpointSlices stays up after the last channel using it
     * lets go of it: a channel entering idle mode (after {@code idleTimeout}, 30 min by default) or
     * shutting down. A channel that leaves idle within it finds its endpoints at once, without a
     * new LIST, even while the API server is unreachable (a control-plane upgrade); after it, the
     * watch stops and the next channel lists again. Costs one open watch per Service for that long.
     * Zero stops the watch at once (the behaviour before this option). Default: 5 minutes ({@link
     * #DEFAULT_IDLE_WATCH_GRACE}); set it to the channel's {@code idleTimeout} or more for channels
     * that idle longer and must survive an outage when they wake.
     *
     * @throws IllegalArgumentException unless zero or from 1 s to 1 day
     */
    public Builder idleWatchGrace(Duration idleWatchGrace) {
      Objects.requireNonNull(idleWatchGrace, "idleWatchGrace");
      if (!idleWatchGrace.isZero()
          && (idleWatchGrace.compareTo(MIN_IDLE_WATCH_GRACE) < 0
              || idleWatchGrace.compareTo(MAX_IDLE_WATCH_GRACE) > 0)) {
        throw new IllegalArgumentException(
            "idleWatchGrace "
                + idleWatchGrace
                + " is out of range (expected zero, to stop a released watch at once, or from"
                + " PT1S to P1D; default "
                + DEFAULT_IDLE_WATCH_GRACE
                + ")");
      }
      this.idleWatchGrace = idleWatchGrace;
      return this;
    }

    /**
     * Watches with this client (its credentials, namespace and HTTP settings); its namespace is the
     * one of targets that name none. The caller keeps ownership: the resolver never closes it.
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
      this.policyConfig = Map.of();
      return this;
    }

    /**
     * The load-balancing policy the resolver asks for, with its config: the JSON object a service
     * config has under the policy's name, as maps, strings and numbers, e.g. {@code
     * policy("peak_ewma", Map.of("decay", "5s", "choiceCount", 3))}. A target's {@code ?policy=}
     * naming another policy wins, with that policy's defaults.
     *
     * @throws IllegalArgumentException if the policy is not registered or rejects the config,
     *     naming the field and what was expected
     */
    public Builder policy(String policy, Map<String, ?> config) {
      this.policyConfig =
          PolicySelection.validateConfig(
              Objects.requireNonNull(policy, "policy"), Objects.requireNonNull(config, "config"));
      this.policy = policy;
      return this;
    }

    /**
     * Your service config, returned by the resolver together with its load-balancing policy: the
     * JSON object a {@code defaultServiceConfig} would take, as maps, lists, strings, numbers and
     * booleans, with {@code methodConfig} (retry or hedging policies, timeouts), {@code
     * retryThrottling}, {@code healthCheckConfig}, and without {@code loadBalancingConfig} (the
     * policy comes from {@code ?policy=} or {@link #policy}). grpc-java uses a resolver's service
     * config instead of the channel's {@code defaultServiceConfig}: this is how a channel keeps its
     * method configs and balances per RPC. Not with {@code ?policy=channel}, which returns no
     * service config (the channel's build then fails naming both). Integers are accepted where
     * grpc-java's parser wants doubles.
     *
     * @throws IllegalArgumentException if a value is not JSON-shaped or the config chooses a policy
     */
    public Builder serviceConfig(Map<String, ?> serviceConfig) {
      this.serviceConfig =
          UserServiceConfig.validate(
              "EndpointSliceOptions.serviceConfig",
              Objects.requireNonNull(serviceConfig, "serviceConfig"));
      return this;
    }

    /** The client's zone, for zone-aware routing with topology hints. */
    public Builder clientZone(String clientZone) {
      this.clientZone = Objects.requireNonNull(clientZone, "clientZone");
      return this;
    }

    /**
     * The client's node (its {@code spec.nodeName}), for node-local routing with the node hints of
     * {@code trafficDistribution: PreferSameNode}.
     */
    public Builder clientNode(String clientNode) {
      this.clientNode = Objects.requireNonNull(clientNode, "clientNode");
      return this;
    }

    /**
     * The client's own Service, in the client pod's namespace (the one its service account names):
     * the resolver then also watches that Service's EndpointSlices, finds this pod among them (by
     * {@value #POD_NAME_ENV} or {@code HOSTNAME}, else {@value #POD_IP_ENV}) and hands its position
     * among the Service's pods to the policy as {@link
     * io.github.kubegrpclb.core.EndpointAttributes#CLIENT_INDEX}, the client's coordinate for
     * deterministic subsetting. Needs {@code list} and {@code watch} on EndpointSlices in that
     * namespace too. Default: {@value #CLIENT_SERVICE_ENV}; neither set, no such watch.
     *
     * @throws IllegalArgumentException if {@code clientService} is not a Service name
     */
    public Builder clientService(String clientService) {
      if (!KubernetesTarget.isLabel(Objects.requireNonNull(clientService, "clientService"))) {
        throw new IllegalArgumentException(
            "clientService '"
                + clientService
                + "' is not a Service name (expected an RFC 1123 label: lowercase letters, digits"
                + " and '-', e.g. my-client; the Service is looked up in the client pod's"
                + " namespace)");
      }
      this.clientService = clientService;
      return this;
    }

    /**
     * Where this resolver and the channel's balancer record metrics (docs/operating.md); the
     * default is {@link LbTelemetry#global()}.
     */
    public Builder telemetry(LbTelemetry telemetry) {
      this.telemetry = telemetry;
      return this;
    }

    public EndpointSliceOptions build() {
      return new EndpointSliceOptions(this);
    }
  }
}
