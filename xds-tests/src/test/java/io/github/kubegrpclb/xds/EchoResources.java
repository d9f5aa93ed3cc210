package io.github.kubegrpclb.xds;

import com.github.xds.type.v3.TypedStruct;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.LoadBalancingPolicy;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.core.v3.TypedExtensionConfig;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.ApiListener;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin;
import io.envoyproxy.envoy.extensions.load_balancing_policies.wrr_locality.v3.WrrLocality;
import io.github.kubegrpclb.testing.LoopbackPod;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;

/**
 * The xDS resources a control plane serves for {@code xds:///echo}: a Listener named {@code echo}
 * (an API listener whose routes come over RDS), its RouteConfiguration sending everything to one
 * EDS Cluster, the Cluster (whose {@code load_balancing_policy} selects the balancer) and its
 * ClusterLoadAssignment (the pods, by locality). Stateless.
 */
final class EchoResources {
  static final String TARGET = "xds:///echo";
  static final String LISTENER = "echo";
  static final String ROUTE = "echo-route";
  static final String CLUSTER = "echo-cluster";
  static final String EDS_SERVICE = "echo-endpoints";

  private static final ConfigSource ADS =
      ConfigSource.newBuilder()
          .setAds(AggregatedConfigSource.getDefaultInstance())
          .setResourceApiVersion(ApiVersion.V3)
          .build();

  private EchoResources() {}

  static Listener listener() {
    HttpConnectionManager manager =
        HttpConnectionManager.newBuilder()
            .setRds(Rds.newBuilder().setRouteConfigName(ROUTE).setConfigSource(ADS))
            .addHttpFilters(
                HttpFilter.newBuilder()
                    .setName("envoy.filters.http.router")
                    .setTypedConfig(Any.pack(Router.getDefaultInstance())))
            .build();
    return Listener.newBuilder()
        .setName(LISTENER)
        .setApiListener(ApiListener.newBuilder().setApiListener(Any.pack(manager)))
        .build();
  }

  static RouteConfiguration route() {
    return RouteConfiguration.newBuilder()
        .setName(ROUTE)
        .addVirtualHosts(
            VirtualHost.newBuilder()
                .setName("echo")
                .addDomains("*")
                .addRoutes(
                    Route.newBuilder()
                        .setMatch(RouteMatch.newBuilder().setPrefix(""))
                        .setRoute(RouteAction.newBuilder().setCluster(CLUSTER))))
        .build();
  }

  /** The EDS cluster, balanced by the first of {@code policies} that the client has. */
  static Cluster cluster(LoadBalancingPolicy.Policy... policies) {
    return Cluster.newBuilder()
        .setName(CLUSTER)
        .setType(Cluster.DiscoveryType.EDS)
        .setEdsClusterConfig(
            Cluster.EdsClusterConfig.newBuilder().setEdsConfig(ADS).setServiceName(EDS_SERVICE))
        .setLoadBalancingPolicy(LoadBalancingPolicy.newBuilder().addAllPolicies(List.of(policies)))
        .build();
  }

  /**
   * A gRFC A52 custom policy: a TypedStruct whose type URL ends in the registered policy name and
   * whose value is the policy's JSON config.
   */
  static LoadBalancingPolicy.Policy customPolicy(String policyName, String jsonConfig) {
    Struct.Builder config = Struct.newBuilder();
    try {
      JsonFormat.parser().merge(jsonConfig, config);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("jsonConfig: " + jsonConfig + " (expected: JSON)", e);
    }
    TypedStruct typedStruct =
        TypedStruct.newBuilder()
            .setTypeUrl("type.googleapis.com/" + policyName)
            .setValue(config)
            .build();
    return LoadBalancingPolicy.Policy.newBuilder()
        .setTypedExtensionConfig(
            TypedExtensionConfig.newBuilder()
                .setName(policyName)
                .setTypedConfig(Any.pack(typedStruct)))
        .build();
  }

  /** grpc-java's round_robin, a fallback for clients without kube-grpc-lb. */
  static LoadBalancingPolicy.Policy roundRobin() {
    return LoadBalancingPolicy.Policy.newBuilder()
        .setTypedExtensionConfig(
            TypedExtensionConfig.newBuilder()
                .setName("envoy.load_balancing_policies.round_robin")
                .setTypedConfig(Any.pack(RoundRobin.getDefaultInstance())))
        .build();
  }

  /**
   * {@code wrr_locality} around {@code child}: traffic is split across localities by locality
   * weight, and one {@code child} instance balances within each locality.
   */
  static LoadBalancingPolicy.Policy wrrLocality(LoadBalancingPolicy.Policy child) {
    WrrLocality wrrLocality =
        WrrLocality.newBuilder()
            .setEndpointPickingPolicy(LoadBalancingPolicy.newBuilder().addPolicies(child))
            .build();
    return LoadBalancingPolicy.Policy.newBuilder()
        .setTypedExtensionConfig(
            TypedExtensionConfig.newBuilder()
                .setName("envoy.load_balancing_policies.wrr_locality")
                .setTypedConfig(Any.pack(wrrLocality)))
        .build();
  }

  /** All pods in one locality (zone-a), healthy, weight 1. */
  static ClusterLoadAssignment endpoints(List<LoopbackPod> pods) {
    return endpoints(Map.of("zone-a", pods));
  }

  /** Pods by zone, every locality with weight 1 and priority 0, every pod healthy. */
  static ClusterLoadAssignment endpoints(Map<String, List<LoopbackPod>> podsByZone) {
    ClusterLoadAssignment.Builder assignment =
        ClusterLoadAssignment.newBuilder().setClusterName(EDS_SERVICE);
    podsByZone.forEach((zone, pods) -> assignment.addEndpoints(locality(zone, 0, pods)));
    return assignment.build();
  }

  /**
   * Locality failover as Istio's {@code localityLbSetting} configures it: the client's zone-a at
   * priority 0, zone-b at priority 1 (used only while priority 0 has no usable endpoint).
   */
  static ClusterLoadAssignment endpointsWithFailover(
      List<LoopbackPod> zoneA, List<LoopbackPod> zoneB) {
    return ClusterLoadAssignment.newBuilder()
        .setClusterName(EDS_SERVICE)
        .addEndpoints(locality("zone-a", 0, zoneA))
        .addEndpoints(locality("zone-b", 1, zoneB))
        .build();
  }

  private static LocalityLbEndpoints locality(String zone, int priority, List<LoopbackPod> pods) {
    LocalityLbEndpoints.Builder locality =
        LocalityLbEndpoints.newBuilder()
            .setLocality(Locality.newBuilder().setRegion("region-1").setZone(zone))
            .setLoadBalancingWeight(UInt32Value.of(1))
            .setPriority(priority);
    for (LoopbackPod pod : pods) {
      locality.addLbEndpoints(lbEndpoint(pod.address()));
    }
    return locality.build();
  }

  private static LbEndpoint lbEndpoint(InetSocketAddress address) {
    return LbEndpoint.newBuilder()
        .setHealthStatus(HealthStatus.HEALTHY)
        .setEndpoint(
            Endpoint.newBuilder()
                .setAddress(
                    Address.newBuilder()
                        .setSocketAddress(
                            SocketAddress.newBuilder()
                                .setAddress(address.getAddress().getHostAddress())
                                .setPortValue(address.getPort()))))
        .build();
  }
}
