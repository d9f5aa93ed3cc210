package io.github.kubegrpclb.core;

import io.github.kubegrpclb.testing.fleet.FleetPolicy;
import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;

/**
 * The two policies as their providers build them ({@link HealthChecking#wrap} around the balancer,
 * the real health probe), with the fleet simulation's clock and seeded random source in place of
 * the system ones the providers wire in; and grpc-java's plain {@code round_robin}, the baseline a
 * default-on feature must never do worse than. Used by {@link FleetEventsTest} and {@link
 * FleetChaos}. Stateless.
 */
final class FleetPolicies {
  private FleetPolicies() {}

  /** As {@link KubeRoundRobinLoadBalancerProvider} builds it, on the simulation's clock. */
  static FleetPolicy kubeRoundRobin() {
    return FleetPolicy.of(
        new KubeRoundRobinLoadBalancerProvider(),
        (helper, clock, random) ->
            HealthChecking.wrap(
                helper,
                h -> KubeRoundRobinPolicy.balancer(h, random, clock, ReadmissionProbe.INSTANCE)),
        EndpointAttributes.ZONE_HINTS,
        EndpointAttributes.CLIENT_ZONE,
        false);
  }

  /** As {@link PeakEwmaLoadBalancerProvider} builds it, on the simulation's clock. */
  static FleetPolicy peakEwma() {
    return FleetPolicy.of(
        new PeakEwmaLoadBalancerProvider(),
        (helper, clock, random) ->
            HealthChecking.wrap(
                helper, h -> PeakEwmaPolicy.balancer(h, clock, random, ReadmissionProbe.INSTANCE)),
        EndpointAttributes.ZONE_HINTS,
        EndpointAttributes.CLIENT_ZONE,
        true);
  }

  /**
   * grpc-java's {@code round_robin} from the registry (it ignores our config keys, and its start
   * index is not seeded), judged as {@code judgedAs} is: a pod counts as sick, with the same
   * detection time, exactly where {@code judgedAs} claims to notice it, so that the same invariants
   * are checked in the same windows. Its balancer avoids nothing.
   */
  static FleetPolicy plainRoundRobin(FleetPolicy judgedAs) {
    LoadBalancerProvider provider =
        LoadBalancerRegistry.getDefaultRegistry().getProvider("round_robin");
    return FleetPolicy.of(
        provider,
        (helper, clock, random) -> provider.newLoadBalancer(helper),
        EndpointAttributes.ZONE_HINTS,
        EndpointAttributes.CLIENT_ZONE,
        judgedAs.name().equals("peak_ewma"));
  }
}
