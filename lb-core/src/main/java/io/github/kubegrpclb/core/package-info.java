/**
 * Load-balancing policies for gRPC on Kubernetes ({@code kube_round_robin}, {@code peak_ewma}) and
 * the endpoint model that this library's resolvers fill in ({@link
 * io.github.kubegrpclb.core.EndpointAttributes}).
 *
 * <p>Public: the providers ({@link io.github.kubegrpclb.core.KubeRoundRobinLoadBalancerProvider},
 * {@link io.github.kubegrpclb.core.PeakEwmaLoadBalancerProvider}), {@link
 * io.github.kubegrpclb.core.PeakEwmaConfig}, {@link io.github.kubegrpclb.core.EndpointAttributes},
 * {@link io.github.kubegrpclb.core.LbTelemetry} and {@link io.github.kubegrpclb.core.LbDebug}.
 * Everything else is package-private; a map, in reading order:
 *
 * <ol>
 *   <li>The balancer: {@code EndpointSetLoadBalancer} owns the subchannels, aggregates their state
 *       as grpc-java's round_robin does, coalesces rebuilds, and runs one address update or state
 *       change through the stages below, one way; {@code Endpoint} is one endpoint's subchannel,
 *       group, connectivity and the policy's state. The policies subclass it: {@code
 *       KubeRoundRobinLoadBalancer}, {@code PeakEwmaLoadBalancer}.
 *   <li>Config: {@code BalancerConfig}, the sections both policies share ({@code
 *       OutlierEjectionConfig}, {@code SlowStartConfig}, {@code SubsettingConfig}, {@code
 *       ZoneSpillConfig}, {@code StreamRebalancingConfig}), read by {@code PolicyConfigFields};
 *       {@code KubeRoundRobinConfig} and {@code PeakEwmaConfig} hold one each.
 *   <li>Endpoint set: {@code EndpointSet} diffs address updates and subsets ({@code
 *       DeterministicSubset}, {@code ClientIndex}).
 *   <li>Admission: {@code OutlierEjection} (streaks, silence, probation; its per-endpoint state is
 *       its own) with {@code IntervalRules} (success rate, latency), fed by {@code OutcomeCounts}
 *       through {@code RpcOutcome}'s classification; {@code ReadmissionProbe} probes ejected
 *       endpoints before re-admission.
 *   <li>Rotation: {@code RotationLists} keeps the endpoints classified (O(1) per state change) in
 *       {@code EndpointList}s; {@code Rotation} picks the list the serving and topology rules want.
 *   <li>Zone spill: {@code ZoneSpill} decides ({@code applies}), then widens the rotation, with
 *       {@code SpillWindow} (its measurements, {@code SpillCounter}) and {@code SpillOrder}.
 *   <li>Slow start: {@code SlowStart}, the weights of endpoints that joined less than a window ago.
 *   <li>Pickers: {@code KubeRoundRobinLoadBalancer.Picker}, {@code PeakEwmaLoadBalancer.Picker}
 *       (with {@code PeakEwmaLoad}, {@code FleetLatency}, {@code RecentClock}); {@code
 *       BufferPicker}, {@code FailurePicker}; tracers {@code RpcCounter}, {@code OutcomeRecorder},
 *       {@code PeakEwmaRecorder}.
 *   <li>Long-lived streams: {@code StreamRebalancer}, {@code StreamPlacingPicker}, {@code
 *       StreamHandle}, {@code RebalancePlan}.
 *   <li>What the outside sees: {@code BalancerPublisher} (metrics, {@code LbDebug} snapshots,
 *       channel log), {@code PickerText}; the {@code internal} package holds telemetry and shared
 *       helpers.
 * </ol>
 */
package io.github.kubegrpclb.core;
