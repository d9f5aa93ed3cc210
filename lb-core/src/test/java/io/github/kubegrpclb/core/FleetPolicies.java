package io.github.kubegrpclb.core;

import io.github.kubegrpclb.testing.fleet.FleetPolicy;

/**
 * The two policies as their providers build them ({@link HealthChecking#wrap} around the balancer,
 * the real health probe), with the fleet simulation's clock and seeded random source in place of
 * the system ones the providers wire in. Stateless.
 */
final class FleetPolicies {
  private FleetPolicies() {}

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
}
