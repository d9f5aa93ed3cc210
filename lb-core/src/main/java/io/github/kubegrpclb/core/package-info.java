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
 *   <li>The balancer: {@code EndpointSetLoadBalancer}, the one balancer both policies run in, owns
 *       the subchannels, aggregates their state as grpc-java's round_robin does, coalesces
 *       rebuilds, and runs one address update or state change through the stages below, one way;
 *       {@code Endpoint} is one endpoint's subchannel, group, connectivity and the policy's state;
 *       each stage keeps its own per-endpoint state in an {@code Endpoint.Slot} it declares, and
 *       not before its feature is first on.
 *   <li>The policies, strategy objects ({@code BalancingPolicy}): {@code KubeRoundRobinPolicy}
 *       (with its {@code Picker}) and {@code PeakEwmaPolicy} (its load {@code PeakEwmaLoad}, fed by
 *       {@code PeakEwmaRecorder}, its picker {@code PeakEwmaPicker}, with {@code FleetLatency} and
 *       {@code RecentClock}). Each supplies its per-endpoint state, what its RPCs feed and its
 *       picker; the providers build a balancer through their {@code balancer} factories.
 *   <li>Config: {@code BalancerConfig}, the sections both policies share ({@code
 *       OutlierEjectionConfig}, {@code SlowStartConfig}, {@code SubsettingConfig}, {@code
 *       ZoneSpillConfig}, {@code StreamRebalancingConfig}), read by {@code PolicyConfigFields};
 *       {@code KubeRoundRobinConfig} and {@code PeakEwmaConfig} hold one each.
 *   <li>Endpoint set: {@code EndpointSet} diffs address updates and subsets ({@code
 *       DeterministicSubset}, {@code ClientIndex}).
 *   <li>Admission: {@code OutlierEjection} (streaks, silence, probation; its per-endpoint state,
 *       with the {@code OutcomeCounts} it decides on, is its own) with {@code IntervalRules}
 *       (success rate, latency) and {@code SilenceRules} (a silence is the endpoint's, not the
 *       network's), fed through {@code RpcOutcome}'s classification; {@code ReadmissionProbe}
 *       probes ejected endpoints before re-admission.
 *   <li>Rotation: {@code RotationLists} keeps the endpoints classified (O(1) per state change) in
 *       {@code EndpointList}s, per admission state ({@code AdmissionLists}), with the pick results
 *       each endpoint's lists carry ({@code PickResults} builds them); {@code Rotation} picks the
 *       list the serving and topology rules prefer. A set of endpoints is always a list, named by
 *       its role: the rotation, the hinted list, the spill list.
 *   <li>Zone spill: {@code ZoneSpill} decides per address update whether RPCs are counted ({@code
 *       prepare}), then per rotation whether and how far to widen it ({@code widen}), with {@code
 *       SpillWindow} (its measurements, {@code SpillCounter}) and {@code SpillOrder}.
 *   <li>Slow start: {@code SlowStart}, the weights of endpoints that joined less than a window ago.
 *   <li>Per RPC: the policy's picker, or {@code BufferPicker} and {@code FailurePicker}; one
 *       tracer, {@code RpcTracer}, counts each RPC, records its outcome for admission and feeds the
 *       policy's load; {@code WeightedDraw} draws by slow-start weight for both pickers.
 *   <li>Long-lived streams: {@code StreamRebalancer} (rounds and draining), {@code RebalancePlan}
 *       (how many each round ends), {@code StreamPlacingPicker}, {@code EndpointStreams} (one
 *       endpoint's open streams), {@code StreamHandle}, {@code MovedStreamStatus}.
 *   <li>What the outside sees: {@code BalancerPublisher} (metrics, {@code LbDebug} snapshots,
 *       channel log), {@code PickerText}; the {@code internal} package holds telemetry and shared
 *       helpers.
 * </ol>
 */
package io.github.kubegrpclb.core;
