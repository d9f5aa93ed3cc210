package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.ConnectivityState;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.Status;
import java.util.function.Function;
import javax.annotation.Nullable;

/**
 * One endpoint (pod) as a balancer tracks it: its subchannel, the resolver's latest view of it and
 * the balancer's view of its connectivity. {@code T} is the policy's per-endpoint state that must
 * survive picker updates (peak-EWMA load, for example).
 *
 * <p>Written only in the channel's SynchronizationContext; {@link #subchannel()}, {@link
 * #policyState()} and {@link #outcomes()} are final (the last two thread-safe), and the group,
 * state and last failure are volatile so that snapshots and gauges may read them from any thread.
 */
final class Endpoint<T> {
  private final Subchannel subchannel;
  private final T policyState;
  private final OutcomeCounts outcomes = new OutcomeCounts();
  // Volatile so that snapshots and gauges (BalancerObserver) can read them from other threads.
  private volatile EquivalentAddressGroup group;
  private volatile ConnectivityState state = ConnectivityState.IDLE;
  private volatile Status lastFailure = Status.OK;
  private boolean removed;
  // The cached pick results and the config they were built for; null until pickResults() runs.
  @Nullable private Object resultsConfig;
  @Nullable private PickResult[] pickResults;
  private EndpointTelemetry telemetry = EndpointTelemetry.NOOP;

  Endpoint(Subchannel subchannel, EquivalentAddressGroup group, T policyState) {
    this.subchannel = subchannel;
    this.group = group;
    this.policyState = policyState;
  }

  Subchannel subchannel() {
    return subchannel;
  }

  T policyState() {
    return policyState;
  }

  OutcomeCounts outcomes() {
    return outcomes;
  }

  EquivalentAddressGroup group() {
    return group;
  }

  void updateGroup(EquivalentAddressGroup group) {
    this.group = group;
  }

  EndpointCondition condition() {
    return EndpointAttributes.conditionOf(group);
  }

  /** The balancer's view: TRANSIENT_FAILURE is sticky until the subchannel is READY again. */
  ConnectivityState state() {
    return state;
  }

  Status lastFailure() {
    return lastFailure;
  }

  /** Records a state reported by the subchannel, keeping TRANSIENT_FAILURE sticky. */
  void onSubchannelState(ConnectivityState reported, Status status) {
    if (reported == ConnectivityState.TRANSIENT_FAILURE) {
      lastFailure = status;
      state = reported;
    } else if (state != ConnectivityState.TRANSIENT_FAILURE
        || reported == ConnectivityState.READY) {
      state = reported;
    }
  }

  /**
   * The results pickers hand out for this endpoint (unary, with the policy's recorder; streams,
   * without), built once per policy config and shared by every picker: a rebuild over N endpoints
   * then allocates only its arrays.
   *
   * @param config the policy config the results are built for, compared by identity
   */
  PickResult[] pickResults(Object config, Function<Endpoint<T>, PickResult[]> build) {
    if (resultsConfig != config || pickResults == null) {
      pickResults = build.apply(this);
      resultsConfig = config;
    }
    return pickResults;
  }

  /** Where this endpoint's RPCs are recorded; set once, before the first picker uses it. */
  EndpointTelemetry telemetry() {
    return telemetry;
  }

  void setTelemetry(EndpointTelemetry telemetry) {
    this.telemetry = telemetry;
  }

  boolean isRemoved() {
    return removed;
  }

  void shutdown() {
    removed = true;
    telemetry.close();
    subchannel.shutdown();
  }

  @Override
  public String toString() {
    return group.getAddresses() + " " + state + " " + condition();
  }
}
