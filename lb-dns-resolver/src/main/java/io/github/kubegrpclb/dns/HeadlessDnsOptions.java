package io.github.kubegrpclb.dns;

import static io.github.kubegrpclb.core.internal.Checks.positive;

import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.core.internal.PolicySelection;
import io.grpc.NameResolver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.annotation.Nullable;

/**
 * Options of the headless DNS resolver that a target cannot carry, passed per channel with {@code
 * ManagedChannelBuilder.setNameResolverArg(HeadlessDnsOptions.KEY, options)}. Target parameters
 * ({@code ?family=}, {@code ?policy=}) win over the same options set here.
 *
 * <p>Immutable and thread-safe.
 */
public final class HeadlessDnsOptions {
  /** The name-resolver argument key for these options. */
  public static final NameResolver.Args.Key<HeadlessDnsOptions> KEY =
      NameResolver.Args.Key.create("io.github.kubegrpclb.dns.options");

  /** Which address records to query. */
  public enum AddressFamily {
    /** A records; AAAA only when the name has no A record (IPv6-only clusters). The default. */
    AUTO,
    IPV4,
    IPV6,
    /** A and AAAA: on a dual-stack Service each pod then counts twice. */
    BOTH
  }

  private final AddressFamily family;
  @Nullable private final String policy;
  private final Map<String, ?> policyConfig;
  private final Duration ttlFloor;
  private final Duration ttlCap;
  private final Duration refreshInterval;
  private final Duration queryTimeout;
  @Nullable private final List<String> searchPath;
  @Nullable private final Integer ndots;
  @Nullable private final InetSocketAddress dnsServer;
  @Nullable private final LbTelemetry telemetry;

  private HeadlessDnsOptions(Builder b) {
    this.telemetry = b.telemetry;
    this.family = b.family;
    this.policy = b.policy;
    this.policyConfig = b.policyConfig;
    this.ttlFloor = b.ttlFloor;
    this.ttlCap = b.ttlCap;
    this.refreshInterval = b.refreshInterval;
    this.queryTimeout = b.queryTimeout;
    this.searchPath = b.searchPath;
    this.ndots = b.ndots;
    this.dnsServer = b.dnsServer;
  }

  public static Builder builder() {
    return new Builder();
  }

  static HeadlessDnsOptions defaults() {
    return builder().build();
  }

  public AddressFamily family() {
    return family;
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

  public Duration ttlFloor() {
    return ttlFloor;
  }

  public Duration ttlCap() {
    return ttlCap;
  }

  public Duration refreshInterval() {
    return refreshInterval;
  }

  public Duration queryTimeout() {
    return queryTimeout;
  }

  /** Search domains for short names, or null to read them from /etc/resolv.conf. */
  @Nullable
  public List<String> searchPath() {
    return searchPath;
  }

  /** The ndots threshold for short names, or null to read it from /etc/resolv.conf. */
  @Nullable
  public Integer ndots() {
    return ndots;
  }

  /** The DNS server to ask, or null for the system's; a target's authority wins over it. */
  @Nullable
  public InetSocketAddress dnsServer() {
    return dnsServer;
  }

  /** Where metrics go, or null for {@link LbTelemetry#global()}. */
  @Nullable
  public LbTelemetry telemetry() {
    return telemetry;
  }

  /** Builds {@link HeadlessDnsOptions}; not thread-safe. */
  public static final class Builder {
    private AddressFamily family = AddressFamily.AUTO;
    @Nullable private String policy;
    private Map<String, ?> policyConfig = Map.of();
    private Duration ttlFloor = Duration.ofSeconds(1);
    private Duration ttlCap = Duration.ofSeconds(30);
    private Duration refreshInterval = Duration.ofSeconds(1);
    private Duration queryTimeout = Duration.ofSeconds(2);
    @Nullable private List<String> searchPath;
    @Nullable private Integer ndots;
    @Nullable private InetSocketAddress dnsServer;
    @Nullable private LbTelemetry telemetry;

    private Builder() {}

    /** Which records to query; default {@link AddressFamily#AUTO}. */
    public Builder family(AddressFamily family) {
      this.family = Objects.requireNonNull(family, "family");
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

    /** Shortest time between TTL-driven re-resolutions; default 1 s. */
    public Builder ttlFloor(Duration ttlFloor) {
      this.ttlFloor = positive("ttlFloor", ttlFloor);
      return this;
    }

    /** Longest time between re-resolutions, whatever the TTL; default 30 s. */
    public Builder ttlCap(Duration ttlCap) {
      this.ttlCap = positive("ttlCap", ttlCap);
      return this;
    }

    /**
     * Shortest time between re-resolutions a failing connection asks for; default 1 s (at most one
     * query burst per second however many connections fail).
     */
    public Builder refreshInterval(Duration refreshInterval) {
      this.refreshInterval = positive("refreshInterval", refreshInterval);
      return this;
    }

    /**
     * Time to wait for one DNS server's answer to one query; default 2 s. With several nameservers
     * in /etc/resolv.conf, one that does not answer in time is passed over for the next within the
     * same resolution.
     */
    public Builder queryTimeout(Duration queryTimeout) {
      this.queryTimeout = positive("queryTimeout", queryTimeout);
      return this;
    }

    /** Search domains for short names, in place of /etc/resolv.conf's. */
    public Builder searchPath(List<String> searchPath) {
      this.searchPath = List.copyOf(searchPath);
      return this;
    }

    /** ndots for short names, in place of /etc/resolv.conf's (Kubernetes pods use 5). */
    public Builder ndots(int ndots) {
      if (ndots < 0 || ndots > 15) {
        throw new IllegalArgumentException("ndots: " + ndots + " (expected: 0..15)");
      }
      this.ndots = ndots;
      return this;
    }

    /** The DNS server to ask in place of the system's. */
    public Builder dnsServer(InetSocketAddress dnsServer) {
      this.dnsServer = Objects.requireNonNull(dnsServer, "dnsServer");
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

    public HeadlessDnsOptions build() {
      if (ttlCap.compareTo(ttlFloor) < 0) {
        throw new IllegalArgumentException(
            "ttlCap: " + ttlCap + " (expected: >= ttlFloor " + ttlFloor + ")");
      }
      return new HeadlessDnsOptions(this);
    }
  }
}
