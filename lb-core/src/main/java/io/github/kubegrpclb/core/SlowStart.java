package io.github.kubegrpclb.core;

import io.grpc.ConnectivityState;
import io.grpc.SynchronizationContext;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import javax.annotation.Nullable;

/**
 * Slow start for both policies ({@link SlowStartConfig}): which endpoints ramp, their weights for
 * the next picker, and the timer that rebuilds the picker while one ramps. Only endpoints that
 * joined less than a window ago are kept, so a rebuild costs O(those), not O(n).
 *
 * <p>Not thread-safe: the balancer calls it, and its timer runs, in the channel's
 * SynchronizationContext; {@link #weight} alone may be read from any thread. It keeps its own
 * per-endpoint state, and only for endpoints that joined less than a window ago.
 *
 * @param <T> the policy's per-endpoint state
 */
final class SlowStart<T> {
  /*
   * Envoy's slow_start_config: an endpoint that joins endpoints already serving (the balancer says
   * when: added after it was READY, or READY again after a failure; not at start-up, nor for a
   * reconnect after a graceful GOAWAY) ramps its weight over the window. It ramps against settled
   * peers (connected endpoints that are neither ramping nor new themselves) or, when it is a new
   * endpoint, behind peers still ramping. When there is neither (a blue/green swap replaced every
   * endpoint, or every connection dropped and comes back together after a client-side blip), it
   * joins unramped and counts as new for the window, so the ones that follow it within the window
   * join unramped too: none ramps, as Envoy gives equal weights when every host is new. Before,
   * the first endpoint back saw nobody connected, got full weight, and every later one ramped from
   * 1 % against it: it took 98.6 % of the RPCs for 10 s (issue 25). And a surge joining a rolling
   * update's pods, all still ramping, joined unramped at full weight: the newest pods took 3-5x the
   * share of those warming longer (FleetChaos seed 118). Pods that came back together after a blip
   * served before it: for a new pod added within the window they are settled peers, and it ramps
   * (FleetChaos seed 177); one coming back never ramps behind such a new pod.
   *
   * Weights are relative: a picker's shares depend only on their ratios, so when every endpoint in
   * rotation ramps (the settled ones left during the ramp), the one furthest along gets 1.
   */
  static final long NOT_WARMING = Long.MIN_VALUE;

  /**
   * Slow start's state of one endpoint that joined less than a window ago: when its ramp began (or
   * NOT_WARMING); when it joined with no settled peer to ramp against, so it joined unramped and
   * counts as new itself for the window (or NOT_WARMING); and the weight in (0, 1] of its ramp
   * (volatile for snapshots and gauges; pickers copy it when they are built, never read it in a
   * pick).
   */
  private static final class Ramp {
    long warmingSinceNanos = NOT_WARMING;
    long joinedUnrampedNanos = NOT_WARMING;
    boolean cameBack; // joined unramped on a reconnect: a pod that served before (a client blip)
    volatile double weight = 1;
  }

  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService scheduler;
  private final LongSupplier nanoClock;
  private final Runnable onTick;
  // Endpoints ramping or joined unramped, less than a window ago (or not yet pruned).
  private final Map<Endpoint<T>, Ramp> recent = new ConcurrentHashMap<>();
  // Endpoints added while the balancer served that have not been READY since.
  private final Set<Endpoint<T>> addedWhileServing = new HashSet<>();
  // The next ramp tick, while an endpoint ramps; null otherwise.
  @Nullable private SynchronizationContext.ScheduledHandle rampTimer;

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

  /** A new endpoint, added while the balancer is {@code serving} (READY) or not. */
  void added(Endpoint<T> endpoint, boolean serving) {
    if (serving) {
      addedWhileServing.add(endpoint);
    }
  }

  /**
   * {@code endpoint}'s subchannel reported {@code state}, before its state (then {@code before}) is
   * recorded: it joins endpoints already serving ({@link #joined}) when its connection is READY
   * again after a failure, or READY for the first time after it was added while the balancer
   * served. That first READY forgets that it was added while serving: a reconnect after a graceful
   * GOAWAY (max connection age) is then the same pod, already warm, not a new endpoint.
   *
   * @param connected endpoints whose subchannel is READY now ({@code endpoint} not yet among them)
   */
  void stateChanged(
      Endpoint<T> endpoint,
      ConnectivityState before,
      ConnectivityState state,
      SlowStartConfig config,
      int connected) {
    if (state != ConnectivityState.READY) {
      return;
    }
    boolean recovered = before == ConnectivityState.TRANSIENT_FAILURE;
    boolean wasAddedWhileServing = addedWhileServing.remove(endpoint);
    boolean joined = recovered || (wasAddedWhileServing && before != ConnectivityState.READY);
    if (joined && config.enabled) {
      joined(endpoint, config, connected, recovered);
    }
  }

  /** The weight of {@code endpoint}'s ramp in (0, 1], 1 when it does not ramp; any thread. */
  double weight(Endpoint<T> endpoint) {
    Ramp ramp = recent.get(endpoint);
    return ramp == null ? 1 : ramp.weight;
  }

  /**
   * Records that {@code endpoint} joins endpoints already serving, before its READY state is
   * recorded: it ramps when a settled peer is connected, or (a new endpoint) a ramping one, and
   * joins unramped otherwise. O(recent).
   *
   * @param connected endpoints whose subchannel is READY now ({@code endpoint} not yet among them)
   * @param recovered READY again after a failure (else a new endpoint added while serving)
   */
  private void joined(
      Endpoint<T> endpoint, SlowStartConfig config, int connected, boolean recovered) {
    long now = nanoClock.getAsLong();
    Ramp ramp = recent.computeIfAbsent(endpoint, e -> new Ramp());
    int newPeers = 0;
    boolean rampingPeer = false;
    for (Map.Entry<Endpoint<T>, Ramp> entry : recent.entrySet()) {
      Endpoint<T> other = entry.getKey();
      if (other != endpoint
          && other.state() == ConnectivityState.READY
          && !other.isRemoved()
          && isNew(entry.getValue(), now, config.windowNanos)
          && !(entry.getValue().cameBack && !recovered)) { // came back warm: settled for a new pod
        newPeers++;
        rampingPeer |= entry.getValue().warmingSinceNanos != NOT_WARMING;
      }
    }
    // A new endpoint ramps behind peers still ramping: they have served longer. Not one coming
    // back after a failure: after a blip it served before the pods a rolling update adds meanwhile.
    if (connected > newPeers || (rampingPeer && !recovered)) {
      ramp.warmingSinceNanos = now;
      ramp.joinedUnrampedNanos = NOT_WARMING;
      ramp.cameBack = false;
    } else {
      ramp.warmingSinceNanos = NOT_WARMING;
      ramp.joinedUnrampedNanos = now;
      ramp.cameBack = recovered;
      ramp.weight = 1;
    }
  }

  /** Whether {@code endpoint} ramps, or joined unramped, less than a window ago. */
  private static boolean isNew(Ramp ramp, long now, long windowNanos) {
    return (ramp.warmingSinceNanos != NOT_WARMING && now - ramp.warmingSinceNanos < windowNanos)
        || (ramp.joinedUnrampedNanos != NOT_WARMING
            && now - ramp.joinedUnrampedNanos < windowNanos);
  }

  /**
   * Sets the weight of each ramping endpoint in rotation for the next picker (every other one's is
   * 1); while any ramps, schedules a rebuild one twentieth of the window later. Returns the weights
   * of {@code snapshot}'s endpoints relative to the largest, or null when all are equal.
   *
   * @param inRotation whether an endpoint is in the rotation {@code snapshot} was taken from
   */
  @Nullable
  double[] weights(
      SlowStartConfig config,
      Predicate<Endpoint<T>> inRotation,
      EndpointList.Snapshot<T> snapshot) {
    long now = nanoClock.getAsLong();
    boolean ramping = false;
    for (Iterator<Map.Entry<Endpoint<T>, Ramp>> it = recent.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Endpoint<T>, Ramp> entry = it.next();
      Ramp ramp = entry.getValue();
      if (!config.enabled || !isNew(ramp, now, config.windowNanos)) {
        it.remove(); // its weight is 1 again
        continue;
      }
      if (ramp.warmingSinceNanos == NOT_WARMING || !inRotation.test(entry.getKey())) {
        continue; // joined unramped; or out of rotation, where its ramp resumes when it is back
      }
      double weight = config.weight(now - ramp.warmingSinceNanos);
      if (ramp.weight != weight) {
        ramp.weight = weight; // volatile (for snapshots): written only while a ramp moves it
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
      Ramp ramp = recent.get(snapshot.get(i));
      weights[i] = ramp == null || ramp.warmingSinceNanos == NOT_WARMING ? 1 : ramp.weight;
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
    recent.keySet().removeIf(live.negate());
    addedWhileServing.removeIf(live.negate());
  }

  void clear() {
    recent.clear();
    addedWhileServing.clear();
  }

  void stop() {
    if (rampTimer != null) {
      rampTimer.cancel();
      rampTimer = null;
    }
  }
}
