/**
 * The fleet-event harness (docs/fleet-harness.md): a deterministic simulation of one client channel
 * in front of a fleet of pods, fleet events, and the invariants a policy must keep through them. A
 * map, in reading order:
 *
 * <ol>
 *   <li>Running it: {@link io.github.kubegrpclb.testing.fleet.FleetRun} (one event, or a random
 *       sequence) with a {@link io.github.kubegrpclb.testing.fleet.FleetPolicy} and {@link
 *       io.github.kubegrpclb.testing.fleet.Features}; it returns a {@link
 *       io.github.kubegrpclb.testing.fleet.FleetReport} of {@link
 *       io.github.kubegrpclb.testing.fleet.Violation}s.
 *   <li>The events: {@link io.github.kubegrpclb.testing.fleet.FleetEvent}.
 *   <li>The invariants: {@code FleetChecker}, fed each window's counts by {@code SimRecorder}.
 *   <li>The simulation: {@code FleetSim} (fake clock, endpoint set, network), {@code SimHelper} and
 *       {@code SimConnection} (the channel and subchannels the balancer sees), {@code SimRpc}
 *       (callers and calls), {@code SimPod} with its {@link
 *       io.github.kubegrpclb.testing.fleet.LatencyModel}.
 * </ol>
 */
package io.github.kubegrpclb.testing.fleet;
