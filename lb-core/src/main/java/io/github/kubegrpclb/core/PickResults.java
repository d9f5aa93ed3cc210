package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.Subchannel;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.LongSupplier;
import javax.annotation.Nullable;

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
  private Object key = new Object();
  @Nullable private Object keyConfig; // the config key stands for; null before the first key
  private boolean keyMeasures;

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
   * The key the results are valid for, compared by identity: a new object whenever the policy's
   * config or whether zone spill measures differs from the last build, never an older one. A result
   * cached on an endpoint that was down through a change that came and went stays valid: the stages
   * keep the state its tracer feeds (outcome counts, spill counts) once they made it.
   */
  Object key() {
    Object config = policy.config();
    boolean measures = zoneSpill.measures();
    if (config != keyConfig || measures != keyMeasures) {
      keyConfig = config;
      keyMeasures = measures;
      key = new Object();
    }
    return key;
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
    OutcomeCounts outcomes =
        ejection.enabled
            ? Objects.requireNonNull(this.outcomes.apply(endpoint), "outcome counts while ejecting")
            : null;
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
