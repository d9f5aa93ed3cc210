package io.github.kubegrpclb.core;

import io.grpc.ConnectivityState;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.Status;

/**
 * One endpoint (pod) as a balancer tracks it: its subchannel, the resolver's latest view of it and
 * the balancer's view of its connectivity. {@code T} is the policy's per-endpoint state that must
 * survive picker updates (peak-EWMA load, for example).
 *
 * <p>The stages keep their own per-endpoint state (outlier ejection its outcome counts, the
 * rotation the pick results, the observer its RPC recorder), keyed by this object's identity.
 *
 * <p>Written only in the channel's SynchronizationContext; {@link #subchannel()} and {@link
 * #policyState()} are final (the latter thread-safe), and the group, state and last failure are
 * volatile so that snapshots and gauges may read them from any thread.
 */
final class Endpoint<T> {
  private final Subchannel subchannel;
  private final T policyState;
  // Volatile so that snapshots and gauges (BalancerPublisher) can read them from other threads.
  private volatile EquivalentAddressGroup group;
  private volatile ConnectivityState state = ConnectivityState.IDLE;
  private volatile Status lastFailure = Status.OK;
  private boolean removed;

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

  boolean isRemoved() {
    return removed;
  }

  void shutdown() {
    removed = true;
    subchannel.shutdown();
  }

  @Override
  public String toString() {
    return group.getAddresses() + " " + state + " " + condition();
  }
}
