package io.github.kubegrpclb.spring;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * kube-grpc-lb's resolver options for Spring gRPC channels, per channel name as in {@code
 * spring.grpc.client.channels.<name>}: {@code kube-grpc-lb.channels.<name>.policy=peak_ewma}. A
 * {@code ?policy=} in the channel's address wins over the policy set here. Mutable, for Spring's
 * binder; not thread-safe until bound.
 */
@ConfigurationProperties("kube-grpc-lb")
public class KubeGrpcLbProperties {
  private final Map<String, Channel> channels = new LinkedHashMap<>();

  /** Options per Spring gRPC channel name. */
  public Map<String, Channel> getChannels() {
    return channels;
  }

  /** One channel's options; unset values keep the resolver's defaults. */
  public static class Channel {
    private String policy;
    private final Map<String, Object> policyConfig = new LinkedHashMap<>();
    private boolean keepServiceConfig = true;
    private String clientZone;
    private String clientNode;
    private String clientService;
    private String family;
    private Duration ttlFloor;
    private Duration ttlCap;
    private Duration refreshInterval;
    private Duration queryTimeout;
    private final StreamRebalancingOptions streamRebalancing = new StreamRebalancingOptions();

    /** The load-balancing policy: kube_round_robin (default), peak_ewma or any registered one. */
    public String getPolicy() {
      return policy;
    }

    public void setPolicy(String policy) {
      this.policy = policy;
    }

    /** The policy's options, e.g. {@code policy-config.decay=5s} (docs/policies.md). */
    public Map<String, Object> getPolicyConfig() {
      return policyConfig;
    }

    /**
     * Whether Spring gRPC's {@code service-config} and {@code health} settings of this channel are
     * returned by the resolver together with the policy (default true); false drops them, as
     * grpc-java does when a resolver returns a service config of its own.
     */
    public boolean isKeepServiceConfig() {
      return keepServiceConfig;
    }

    public void setKeepServiceConfig(boolean keepServiceConfig) {
      this.keepServiceConfig = keepServiceConfig;
    }

    /** {@code kubernetes:///}: the client's zone, for topology hints. */
    public String getClientZone() {
      return clientZone;
    }

    public void setClientZone(String clientZone) {
      this.clientZone = clientZone;
    }

    /** {@code kubernetes:///}: the client's node, for node hints. */
    public String getClientNode() {
      return clientNode;
    }

    public void setClientNode(String clientNode) {
      this.clientNode = clientNode;
    }

    /** {@code kubernetes:///}: the client's own Service, for deterministic subsetting. */
    public String getClientService() {
      return clientService;
    }

    public void setClientService(String clientService) {
      this.clientService = clientService;
    }

    /** {@code headless:///}: the address records to query: auto, ipv4, ipv6 or both. */
    public String getFamily() {
      return family;
    }

    public void setFamily(String family) {
      this.family = family;
    }

    /** {@code headless:///}: the shortest time between two lookups, whatever the TTL. */
    public Duration getTtlFloor() {
      return ttlFloor;
    }

    public void setTtlFloor(Duration ttlFloor) {
      this.ttlFloor = ttlFloor;
    }

    /** {@code headless:///}: the longest time between two lookups, whatever the TTL. */
    public Duration getTtlCap() {
      return ttlCap;
    }

    public void setTtlCap(Duration ttlCap) {
      this.ttlCap = ttlCap;
    }

    /** {@code headless:///}: the shortest time between two refreshes a connection asks for. */
    public Duration getRefreshInterval() {
      return refreshInterval;
    }

    public void setRefreshInterval(Duration refreshInterval) {
      this.refreshInterval = refreshInterval;
    }

    /** {@code headless:///}: one lookup's timeout. */
    public Duration getQueryTimeout() {
      return queryTimeout;
    }

    public void setQueryTimeout(Duration queryTimeout) {
      this.queryTimeout = queryTimeout;
    }

    /**
     * Long-lived stream rebalancing (docs/streams.md), e.g. {@code
     * stream-rebalancing.enabled=true}: goes into the policy's config, and the channel gets the
     * interceptor it needs.
     */
    public StreamRebalancingOptions getStreamRebalancing() {
      return streamRebalancing;
    }
  }

  /**
   * A channel's {@code stream-rebalancing.*} options, the policy's {@code "streamRebalancing"}
   * object (docs/streams.md); unset values keep its defaults. With {@code enabled=true} the
   * auto-configuration also installs {@code StreamRebalancing.interceptor()} on the channel.
   */
  public static class StreamRebalancingOptions {
    private boolean enabled;
    private Duration interval;
    private Double tolerance;
    private Double maxSharePerInterval;
    private Double jitter;
    private Duration terminationGrace;
    private Double drainShare;

    /** Turns placement, rebalancing and draining of streams on (default false). */
    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    /** How often the streams per endpoint are checked (default 5s). */
    public Duration getInterval() {
      return interval;
    }

    public void setInterval(Duration interval) {
      this.interval = interval;
    }

    /** The band around the fair share, as a fraction of it (default 0.2). */
    public Double getTolerance() {
      return tolerance;
    }

    public void setTolerance(Double tolerance) {
      this.tolerance = tolerance;
    }

    /** At most this share of the open streams is ended per interval (default 0.25). */
    public Double getMaxSharePerInterval() {
      return maxSharePerInterval;
    }

    public void setMaxSharePerInterval(Double maxSharePerInterval) {
      this.maxSharePerInterval = maxSharePerInterval;
    }

    /** Random share by which intervals are stretched and rounds end fewer (default 0.2). */
    public Double getJitter() {
      return jitter;
    }

    public void setJitter(Double jitter) {
      this.jitter = jitter;
    }

    /** The pods' {@code terminationGracePeriodSeconds} (default 30s). */
    public Duration getTerminationGrace() {
      return terminationGrace;
    }

    public void setTerminationGrace(Duration terminationGrace) {
      this.terminationGrace = terminationGrace;
    }

    /** A terminating endpoint's streams move within this share of the grace (default 0.5). */
    public Double getDrainShare() {
      return drainShare;
    }

    public void setDrainShare(Double drainShare) {
      this.drainShare = drainShare;
    }
  }
}
