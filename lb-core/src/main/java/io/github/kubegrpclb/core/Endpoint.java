package io.github.kubegrpclb.core;

import io.grpc.ConnectivityState;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.Status;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import javax.annotation.Nullable;

/**
 * One endpoint (pod) as a balancer tracks it: its subchannel, the resolver's latest view of it and
 * the balancer's view of its connectivity. {@code T} is the policy's per-endpoint state that must
 * survive picker updates (peak-EWMA load, for example).
 *
 * <p>Each stage keeps its own per-endpoint state (outlier ejection its outcome counts, the rotation
 * its classification and pick results, zone spill its counters, the publisher its RPC recorder) in
 * a {@link Slot} it declares: the endpoint holds the object, only the stage's key reads it, and the
 * stage alone decides when it exists (not before its feature is first on). A slot costs an array
 * read, where a map per stage cost a hash lookup per stage per state change (issue 24's cold
 * start).
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
  // The stages' per-endpoint states, indexed by Slot, one for each slot declared when the endpoint
  // was created (the stages' classes are loaded by then). Elements are written with release and
  // read with acquire semantics, so a reader on another thread sees a state fully built; the array
  // is replaced (copy, then volatile write) only for a slot declared later.
  private volatile Object[] slots = new Object[Slot.COUNT.get()];
  private static final VarHandle SLOTS = MethodHandles.arrayElementVarHandle(Object[].class);

  /**
   * A stage's key to its per-endpoint state: one per stage, held in a static final field of the
   * stage (every slot ever declared widens every endpoint's array: never declare one per balancer
   * or per call). Immutable.
   *
   * @param <S> the stage's state type
   */
  static final class Slot<S> {
    private static final AtomicInteger COUNT = new AtomicInteger();
    private final int index = COUNT.getAndIncrement();
    private final Class<S> type;

    private Slot(Class<S> type) {
      this.type = type;
    }

    static <S> Slot<S> of(Class<S> type) {
      return new Slot<>(type);
    }

    @Override
    public String toString() {
      return "Slot(" + type.getSimpleName() + ")";
    }
  }

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

  /** The state {@code slot}'s stage keeps for this endpoint, or null while it keeps none. */
  @Nullable
  <S> S get(Slot<S> slot) {
    Object[] current = slots;
    return slot.index < current.length
        ? slot.type.cast(SLOTS.getAcquire(current, slot.index))
        : null;
  }

  /**
   * Sets (or, with null, drops) the state {@code slot}'s stage keeps for this endpoint; only in the
   * SynchronizationContext.
   */
  <S> void set(Slot<S> slot, @Nullable S state) {
    Object[] current = slots;
    if (slot.index < current.length) {
      SLOTS.setRelease(current, slot.index, state);
    } else if (state != null) {
      Object[] grown = Arrays.copyOf(current, Math.max(slot.index + 1, Slot.COUNT.get()));
      grown[slot.index] = state;
      slots = grown;
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
