package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.Subchannel;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * Builds the results pickers hand out for an endpoint, {unary, stream}, with the {@link RpcTracer}
 * each RPC carries: a stream only counts (when RPCs are recorded); a unary RPC also records its
 * outcome while outlier ejection is on, is counted while zone spill measures, and feeds the
 * policy's load when the policy keeps one. It only reads what each stage keeps for the endpoint.
 * Results are built once per {@link #key} and cached by {@link RotationLists}, so a rebuild over n
 * endpoints allocates only its arrays.
 *
 * <p>Not thread-safe: the balancer's SynchronizationContext.
 *
 * @param <T> the policy's per-endpoint state
 */
final class PickResults<T> {
  private final BalancingPolicy<T> policy;
  private final ZoneSpill<T> zoneSpill;
  private final BooleanSupplier recording;
  private final Function<Endpoint<T>, EndpointTelemetry> telemetry;
  private final Function<Endpoint<?>, OutcomeCounts> outcomes;
  private final LongSupplier nanoClock;

  /**
   * @param recording whether RPCs are recorded (telemetry is fixed before the first endpoint)
   * @param telemetry where an endpoint's RPCs are recorded
   * @param outcomes an endpoint's outcome counts, outlier ejection's (null while it keeps none)
   * @param nanoClock times outcomes for a policy without a load of its own
   */
  PickResults(
      BalancingPolicy<T> policy,
      ZoneSpill<T> zoneSpill,
      BooleanSupplier recording,
      Function<Endpoint<T>, EndpointTelemetry> telemetry,
      Function<Endpoint<?>, OutcomeCounts> outcomes,
      LongSupplier nanoClock) {
    this.policy = policy;
    this.zoneSpill = zoneSpill;
    this.recording = recording;
    this.telemetry = telemetry;
    this.outcomes = outcomes;
    this.nanoClock = nanoClock;
  }

  /**
   * The key the results are valid for, compared by identity: the policy's config, or another object
   * while zone spill counts RPCs ({@link ZoneSpill#resultsKey}).
   */
  Object key() {
    return zoneSpill.resultsKey(policy.config());
  }

  /** Builds {@code endpoint}'s {unary, stream} results for the current {@link #key}. */
  PickResult[] build(Endpoint<T> endpoint) {
    Subchannel subchannel = endpoint.subchannel();
    boolean recording = this.recording.getAsBoolean();
    EndpointTelemetry recorder = telemetry.apply(endpoint);
    PickResult stream =
        recording
            ? PickResult.withSubchannel(subchannel, RpcTracer.counting(recorder))
            : PickResult.withSubchannel(subchannel);
    OutlierEjectionConfig ejection = policy.balancerConfig().outlierEjection();
    // Each stage's part is a read: the stage created it, if its feature is on, before this build.
    SpillCounter spill = zoneSpill.counter(endpoint);
    OutcomeCounts outcomes = ejection.enabled ? this.outcomes.apply(endpoint) : null;
    RpcTracer.Load load = policy.load(endpoint);
    if (load == null && outcomes == null && spill == null) {
      return new PickResult[] {stream, stream};
    }
    PickResult unary =
        PickResult.withSubchannel(
            subchannel,
            RpcTracer.unary(recorder, spill, outcomes, ejection.failureCodes, nanoClock, load));
    return new PickResult[] {unary, stream};
  }
}
