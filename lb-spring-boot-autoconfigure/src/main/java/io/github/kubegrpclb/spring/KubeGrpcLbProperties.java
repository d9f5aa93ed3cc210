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
  }
}
