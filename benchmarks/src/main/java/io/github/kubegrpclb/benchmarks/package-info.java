/**
 * JMH and scenario benchmarks (see the README section on benchmarks). They reach the library
 * through its public API only: policies from the {@code LoadBalancerRegistry}, resolvers through
 * channels. A map:
 *
 * <ol>
 *   <li>JMH, pick and update cost (docs/pick-cost.md): {@code PickerBenchmark}, {@code
 *       ZoneSpillPickBenchmark}, {@code AddressUpdateBenchmark}, {@code ColdStartBenchmark}, over
 *       {@code BalancerFixture}.
 *   <li>The scenario benchmark (docs/benchmarks.md): {@code ScenarioBenchmark} runs its own
 *       scenarios and {@code SickPodScenarios}, {@code RoutingQualityScenarios}, {@code
 *       ZoneSpillScenarios}, {@code DiscoveryLagScenarios}, {@code StreamRebalancingScenario},
 *       {@code SubsettingSimulation} (over {@code SubsettingFleet}, with {@code
 *       ClientChurnSimulation}) and {@code ApiServerCost} (with {@code CountingProxy}); {@code
 *       ScenarioSupport} holds their shared waiting and teardown.
 *   <li>Standalone: {@code ColdStartScenario} (1,000 loopback pods), {@code ColdJoinRounds}.
 * </ol>
 */
package io.github.kubegrpclb.benchmarks;
