package io.github.kubegrpclb.core;

import io.grpc.ConnectivityState;
import io.grpc.SynchronizationContext;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * Slow start for both policies ({@link SlowStartConfig}): which endpoints ramp, their weights for
 * the next picker, and the timer that rebuilds the picker while one ramps. Only endpoints that
 * joined less than a window ago are kept, so a rebuild costs O(those), not O(n).
 *
 * <p>Not thread-safe: the balancer calls it, and its timer runs, in the channel's
 * SynchronizationContext. It writes only the slow-start fields of {@link Endpoint}.
 *
 * @param <T> the policy's per-endpoint state
 */
final class SlowStart<T> {
  /*
   * Envoy's slow_start_config: an endpoint that joins endpoints already serving (the balancer says
   * when: added after it was READY, or READY again after a failure; not at start-up, nor for a
   * reconnect after a graceful GOAWAY) ramps its weight over the window. It ramps only against
   * settled peers: connected endpoints that are neither ramping nor new themselves. When there is
   * none (a blue/green swap replaced every endpoint, or every connection dropped and comes back
   * together after a client-side blip), it joins unramped and counts as new for the window, so the
   * ones that follow it within the window join unramped too: none ramps, as Envoy gives equal
   * weights when every host is new. Before, the first endpoint back saw nobody connected, got full
   * weight, and every later one ramped from 1 % against it: it took 98.6 % of the RPCs for 10 s
   * (issue 25).
   *
   * Weights are relative: a picker's shares depend only on their ratios, so when every endpoint in
   * rotation ramps (the settled ones left during the ramp), the one furthest along gets 1.
   */
  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService scheduler;
  private final LongSupplier nanoClock;
  private final Runnable onTick;
  // Endpoints ramping or joined unramped, less than a window ago (or not yet pruned).
  private final List<Endpoint<T>> recent = new ArrayList<>();
  private SynchronizationContext.ScheduledHandle rampTimer;

  /**
   * @param onTick rebuilds the picker (in the SynchronizationContext) while an endpoint ramps
   */
  SlowStart(
      SynchronizationContext syncContext,
      ScheduledExecutorService scheduler,
      LongSupplier nanoClock,
      Runnable onTick) {
    this.syncContext = syncContext;
    this.scheduler = scheduler;
    this.nanoClock = nanoClock;
    this.onTick = onTick;
  }

  /**
   * Records that {@code endpoint} joins endpoints already serving, before its READY state is
   * recorded: it ramps when a settled peer is connected, and joins unramped otherwise. O(recent).
   *
   * @param connected endpoints whose subchannel is READY now ({@code endpoint} not yet among them)
   */
  void joined(Endpoint<T> endpoint, SlowStartConfig config, int connected) {
    long now = nanoClock.getAsLong();
    if (endpoint.warmingSinceNanos == Endpoint.NOT_WARMING
        && endpoint.joinedUnrampedNanos == Endpoint.NOT_WARMING) {
      recent.add(endpoint);
    }
    int newPeers = 0;
    for (Endpoint<T> other : recent) {
      if (other != endpoint
          && other.state() == ConnectivityState.READY
          && !other.isRemoved()
          && isNew(other, now, config.windowNanos)) {
        newPeers++;
      }
    }
    if (connected > newPeers) {
      endpoint.warmingSinceNanos = now;
      endpoint.joinedUnrampedNanos = Endpoint.NOT_WARMING;
    } else {
      endpoint.warmingSinceNanos = Endpoint.NOT_WARMING;
      endpoint.joinedUnrampedNanos = now;
      endpoint.weight = 1;
    }
  }

  /** Whether {@code endpoint} ramps, or joined unramped, less than a window ago. */
  private static boolean isNew(Endpoint<?> endpoint, long now, long windowNanos) {
    return (endpoint.warmingSinceNanos != Endpoint.NOT_WARMING
            && now - endpoint.warmingSinceNanos < windowNanos)
        || (endpoint.joinedUnrampedNanos != Endpoint.NOT_WARMING
            && now - endpoint.joinedUnrampedNanos < windowNanos);
  }

  /**
   * Sets the weight of each ramping endpoint in rotation for the next picker (every other one's is
   * 1); while any ramps, schedules a rebuild one twentieth of the window later. Returns the weights
   * of {@code snapshot}'s endpoints relative to the largest, or null when all are equal.
   *
   * @param inRotation whether an endpoint is in the rotation {@code snapshot} was taken from
   */
  double[] weights(
      SlowStartConfig config,
      Predicate<Endpoint<T>> inRotation,
      EndpointList.Snapshot<T> snapshot) {
    long now = nanoClock.getAsLong();
    boolean ramping = false;
    for (Iterator<Endpoint<T>> it = recent.iterator(); it.hasNext(); ) {
      Endpoint<T> endpoint = it.next();
      if (!config.enabled || !isNew(endpoint, now, config.windowNanos)) {
        endpoint.warmingSinceNanos = Endpoint.NOT_WARMING;
        endpoint.joinedUnrampedNanos = Endpoint.NOT_WARMING;
        if (endpoint.weight != 1) {
          endpoint.weight = 1;
        }
        it.remove();
        continue;
      }
      if (endpoint.warmingSinceNanos == Endpoint.NOT_WARMING || !inRotation.test(endpoint)) {
        continue; // joined unramped; or out of rotation, where its ramp resumes when it is back
      }
      double weight = config.weight(now - endpoint.warmingSinceNanos);
      if (endpoint.weight != weight) {
        endpoint.weight = weight; // volatile (for snapshots): written only while a ramp moves it
      }
      ramping = true;
    }
    if (ramping && rampTimer == null) {
      rampTimer =
          syncContext.schedule(
              () -> {
                rampTimer = null;
                onTick.run();
              },
              Math.max(1, config.windowNanos / 20),
              TimeUnit.NANOSECONDS,
              scheduler);
    }
    if (!ramping) {
      return null;
    }
    double[] weights = new double[snapshot.size()];
    double largest = 0;
    for (int i = 0; i < weights.length; i++) {
      Endpoint<T> endpoint = snapshot.get(i);
      weights[i] = endpoint.warmingSinceNanos == Endpoint.NOT_WARMING ? 1 : endpoint.weight;
      largest = Math.max(largest, weights[i]);
    }
    boolean equal = true;
    for (int i = 0; i < weights.length; i++) {
      weights[i] /= largest;
      equal &= weights[i] >= 1;
    }
    return equal ? null : weights;
  }

  /** Forgets the endpoints {@code live} rejects (removed by an address update). */
  void retain(Predicate<Endpoint<T>> live) {
    recent.removeIf(live.negate());
  }

  void clear() {
    recent.clear();
  }

  void stop() {
    if (rampTimer != null) {
      rampTimer.cancel();
      rampTimer = null;
    }
  }
}
