package io.github.kubegrpclb.core;

import io.grpc.ChannelLogger;
import io.grpc.ChannelLogger.ChannelLogLevel;
import io.grpc.LoadBalancer.SubchannelPicker;
import io.grpc.Status;
import io.grpc.SynchronizationContext;
import io.grpc.SynchronizationContext.ScheduledHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntUnaryOperator;
import java.util.function.LongSupplier;
import java.util.function.ToDoubleFunction;
import javax.annotation.Nullable;

/**
 * Keeps a balancer's long-lived streams spread over its endpoints ({@link
 * StreamRebalancingConfig}): wraps each picker so that streams land where the fewest are open
 * ({@link StreamPlacingPicker}), ends streams on the busiest endpoints when the rotation drifts out
 * of balance, and moves the streams of terminating or removed endpoints within a share of the
 * termination grace period.
 *
 * <p>Runs in the balancer's SynchronizationContext, on its scheduler and clock; {@link
 * #openStreams} may be read from any thread (gauges, snapshots).
 *
 * @param <T> the policy's per-endpoint state
 */
/*
 * Rebalancing. Every interval (stretched by a random 0..jitter share, so that the clients of one
 * fleet do not all cut streams at the same instant after the same EndpointSlice event) the
 * controller counts the streams that will stay on each endpoint of the rotation (open and not yet
 * asked to end) and ends RebalancePlan.round of them, at most maxSharePerInterval of all open
 * streams, oldest first, from the busiest. The number a round ends is jittered too: a uniform draw
 * between (1 - jitter) x planned (rounded up, at least 1) and planned, so that the fleet's clients
 * do not all re-open the same burst; ending fewer never costs a move (the next round ends the
 * rest), so the total stays the minimum that restores the band. A balanced rotation costs nothing
 * and ends nothing.
 * Streams that closed on their own (finished, failed, cut) in the last two intervals, after living
 * at least one interval (NaturalCloses: shorter streaming calls are not long-lived streams, and a
 * steady flow of them would look like re-opens that never come), are counted as if already
 * re-opened where the picker will put them (the emptiest): a steady set with natural
 * churn has holes that its own re-opens fill, and ending a stream to fill one would be a move
 * nobody needed. Counting a stream that will not come back only delays a real rebalance by two
 * intervals; it never causes a move.
 * A round waits while streams it asked to end are still closing (up to three intervals, for a
 * handler that does not act): counted before they re-open, the rotation would look emptier than
 * it is and the round would move too many.
 * Reason: scale_up while the endpoint set has grown since it was last balanced, else imbalance.
 * While slow start ramps an endpoint of the rotation up, nothing is moved: the moved streams would
 * shun the cold endpoint (placement divides by its weight) and land on the busy ones again.
 *
 * Draining. An endpoint turning terminating (EndpointSlice serving+terminating) or leaving the set
 * (a DNS answer without it) gets a deadline, drainShare x terminationGrace from then; its streams
 * are ended in about eight even steps up to it (not all at once: the re-opens would be a burst on
 * the remaining endpoints), the last step cancelling even streams whose application was told and
 * did not act. Nothing is drained while no other endpoint is in rotation: there is nowhere to go.
 */
final class StreamRebalancer<T> {
  static final String SCALE_UP = "scale_up";
  static final String IMBALANCE = "imbalance";
  static final String TERMINATING = "terminating";
  private static final int DRAIN_STEPS = 8;

  /** Told how many streams were ended, and why. */
  interface EndedListener {
    void ended(String reason, int count);
  }

  private final SynchronizationContext sync;
  private final ScheduledExecutorService timer;
  private final LongSupplier nanoClock;
  private final IntUnaryOperator random;
  private final String policyName;
  private final ChannelLogger logger;
  private final EndedListener listener;
  private final ToDoubleFunction<Endpoint<T>> weight; // slow start's
  // Current endpoints and removed ones still draining; read by gauges from other threads.
  private final Map<Endpoint<T>, EndpointStreams> streams = new ConcurrentHashMap<>();
  private final IdentityHashMap<Endpoint<T>, Long> drainDeadlines = new IdentityHashMap<>();
  private final NaturalCloses naturalCloses;
  // naturalCloses at the last two rounds: the closes since the older are likely re-opening.
  private long closedAtLastRound;
  private long closedAtRoundBefore;
  private StreamRebalancingConfig config = StreamRebalancingConfig.OFF;
  private List<Endpoint<T>> rotation = List.of();
  // Endpoints added since the rotation was last balanced with them in it: moves are scale_up.
  private final IdentityHashMap<Endpoint<T>, Boolean> joining = new IdentityHashMap<>();
  @Nullable private ScheduledHandle checkTimer; // the next round; null while none is scheduled
  private long lastRoundNanos;
  @Nullable private ScheduledHandle drainTimer; // the next draining step; null while none is due

  /**
   * @param random returns a uniform int in {@code [0, bound)}, for the jitter
   * @param listener told of every batch of ended streams (metrics)
   * @param weight an endpoint's slow-start weight: streams move to it only once it is 1
   */
  StreamRebalancer(
      SynchronizationContext sync,
      ScheduledExecutorService timer,
      LongSupplier nanoClock,
      IntUnaryOperator random,
      String policyName,
      ChannelLogger logger,
      EndedListener listener,
      ToDoubleFunction<Endpoint<T>> weight) {
    this.sync = sync;
    this.timer = timer;
    this.nanoClock = nanoClock;
    this.random = random;
    this.policyName = policyName;
    this.logger = logger;
    this.listener = listener;
    this.weight = weight;
    this.naturalCloses = new NaturalCloses(nanoClock);
  }

  boolean enabled() {
    return config.enabled;
  }

  /**
   * An address update: {@code current} are the balancer's endpoints now, {@code added} and {@code
   * removed} what changed. Starts draining terminating and removed endpoints.
   */
  void update(
      StreamRebalancingConfig next,
      Collection<Endpoint<T>> current,
      Collection<Endpoint<T>> added,
      Collection<Endpoint<T>> removed) {
    if (!next.enabled) {
      if (config.enabled) {
        stop();
      }
      config = next;
      return;
    }
    config = next;
    naturalCloses.minLifetime(next.intervalNanos);
    long now = nanoClock.getAsLong();
    for (Endpoint<T> endpoint : current) {
      streams.computeIfAbsent(endpoint, e -> new EndpointStreams(naturalCloses));
      if (endpoint.condition() == EndpointCondition.TERMINATING_SERVING) {
        startDrain(endpoint, now);
      } else {
        drainDeadlines.remove(endpoint); // serving again (a rollback): stays
      }
    }
    for (Endpoint<T> endpoint : removed) {
      EndpointStreams gone = streams.get(endpoint);
      if (gone != null && gone.open() > 0) {
        startDrain(endpoint, now);
      } else {
        streams.remove(endpoint);
        drainDeadlines.remove(endpoint);
      }
    }
    for (Endpoint<T> endpoint : added) {
      joining.put(endpoint, true);
    }
    for (Endpoint<T> endpoint : removed) {
      joining.remove(endpoint);
    }
    scheduleCheck();
  }

  private void startDrain(Endpoint<T> endpoint, long now) {
    if (!drainDeadlines.containsKey(endpoint)) {
      drainDeadlines.put(endpoint, now + config.drainWindowNanos());
      scheduleDrain(0);
    }
  }

  /**
   * Returns {@code picker}, wrapped so that streaming calls are placed by open streams when
   * rebalancing is on; {@code rotation} is the picker's rotation.
   */
  SubchannelPicker wrap(
      SubchannelPicker picker, EndpointList.Snapshot<T> rotation, @Nullable double[] weights) {
    if (!config.enabled) {
      return picker;
    }
    this.rotation = rotation;
    EndpointStreams[] sets = new EndpointStreams[rotation.size()];
    for (int i = 0; i < sets.length; i++) {
      sets[i] = streams.computeIfAbsent(rotation.get(i), e -> new EndpointStreams(naturalCloses));
    }
    scheduleCheck();
    return new StreamPlacingPicker(picker, rotation.streamResults(), sets, weights);
  }

  /** Streams open on {@code endpoint}, or -1 when rebalancing is off; any thread. */
  int openStreams(Endpoint<?> endpoint) {
    EndpointStreams set = streams.get(endpoint);
    return set == null ? -1 : set.open();
  }

  void shutdown() {
    stop();
  }

  private void stop() {
    if (checkTimer != null) {
      checkTimer.cancel();
      checkTimer = null;
    }
    if (drainTimer != null) {
      drainTimer.cancel();
      drainTimer = null;
    }
    streams.clear();
    drainDeadlines.clear();
    rotation = List.of();
    joining.clear();
  }

  private void scheduleCheck() {
    if (checkTimer != null || !config.enabled) {
      return;
    }
    // Stretched, never shortened, so that no interval ends more than maxSharePerInterval.
    long delay =
        config.intervalNanos
            + (long)
                (config.intervalNanos * config.jitter * random.applyAsInt(1 << 20) / (1 << 20));
    checkTimer = sync.schedule(this::check, delay, TimeUnit.NANOSECONDS, timer);
  }

  private void scheduleDrain(long delayNanos) {
    if (drainTimer == null) {
      drainTimer = sync.schedule(this::drain, delayNanos, TimeUnit.NANOSECONDS, timer);
    }
  }

  /** One rebalancing round over the endpoints in rotation that are not draining. */
  void check() {
    checkTimer = null;
    if (!config.enabled) {
      return;
    }
    scheduleCheck();
    long closed = naturalCloses.count();
    long reopening = closed - closedAtRoundBefore;
    closedAtRoundBefore = closedAtLastRound;
    closedAtLastRound = closed;
    List<Endpoint<T>> serving = new ArrayList<>(rotation.size());
    for (Endpoint<T> endpoint : rotation) {
      if (!drainDeadlines.containsKey(endpoint) && !endpoint.isRemoved()) {
        serving.add(endpoint);
      }
    }
    for (Endpoint<T> endpoint : serving) {
      if (weight.applyAsDouble(endpoint) < 1) {
        return; // slow start is ramping a joining endpoint up: move streams to it once it is warm
      }
    }
    int[] counts = new int[serving.size()];
    int open = 0;
    int ending = 0;
    for (int i = 0; i < counts.length; i++) {
      EndpointStreams set =
          streams.computeIfAbsent(serving.get(i), e -> new EndpointStreams(naturalCloses));
      counts[i] = set.staying();
      open += set.open();
      ending += set.open() - counts[i];
    }
    long now = nanoClock.getAsLong();
    if (ending > 0 && now - lastRoundNanos < 3 * config.intervalNanos) {
      return; // the last round's streams are still closing: count again once they have moved
    }
    int budget = Math.max(1, (int) (open * config.maxSharePerInterval));
    int[] ends =
        RebalancePlan.round(
            counts,
            (int) Math.min(reopening, open),
            config.tolerance,
            budget,
            config.jitter,
            random);
    int total = 0;
    for (int e : ends) {
      total += e;
    }
    if (total == 0) {
      // Balanced with these in it: a later drift is an imbalance, not this scale-up. (Not those
      // still connecting: a rotation without them is balanced before they count.)
      for (Endpoint<T> endpoint : serving) {
        joining.remove(endpoint);
      }
      return;
    }
    lastRoundNanos = now;
    String reason = joining.isEmpty() ? IMBALANCE : SCALE_UP;
    double fair = 0;
    for (int c : counts) {
      fair += c;
    }
    fair /= counts.length;
    int ended = 0;
    for (int i = 0; i < ends.length; i++) {
      if (ends[i] == 0) {
        continue;
      }
      Status status =
          MovedStreamStatus.rebalanced(reason, serving.get(i), counts[i], fair, counts.length);
      // Never null: the counting loop above put a set in for every serving endpoint.
      ended +=
          Objects.requireNonNull(streams.get(serving.get(i)), "streams").endOldest(ends[i], status);
    }
    report(reason, ended, counts);
  }

  /** One draining step over every terminating or removed endpoint. */
  void drain() {
    drainTimer = null;
    if (!config.enabled || drainDeadlines.isEmpty()) {
      return;
    }
    long now = nanoClock.getAsLong();
    long step = Math.max(1, config.drainWindowNanos() / DRAIN_STEPS);
    boolean elsewhere = false;
    for (Endpoint<T> endpoint : rotation) {
      elsewhere |= !drainDeadlines.containsKey(endpoint) && !endpoint.isRemoved();
    }
    int ended = 0;
    boolean pending = false;
    long nextStep = step;
    for (Iterator<Map.Entry<Endpoint<T>, Long>> it = drainDeadlines.entrySet().iterator();
        it.hasNext(); ) {
      Map.Entry<Endpoint<T>, Long> entry = it.next();
      Endpoint<T> endpoint = entry.getKey();
      EndpointStreams set = streams.get(endpoint);
      if (set == null || (endpoint.isRemoved() && set.open() == 0)) {
        it.remove();
        streams.remove(endpoint);
        continue;
      }
      if (set.open() > 0) {
        pending = true;
        long left = entry.getValue() - now;
        nextStep = Math.min(nextStep, left > 0 ? left : step); // one tick lands on the deadline
      }
      if (!elsewhere) {
        continue; // nowhere to move them: the endpoint still serves
      }
      long left = entry.getValue() - now;
      Status status = MovedStreamStatus.drained(endpoint);
      if (left <= 0) {
        ended += set.endAll(status, true); // even those told and still open
      } else if (left <= step) {
        ended += set.endAll(status, false);
      } else {
        ended += set.endOldest((int) Math.ceil(set.staying() * (double) step / left), status);
      }
    }
    if (ended > 0) {
      report(TERMINATING, ended, null);
    }
    if (pending) {
      scheduleDrain(nextStep); // else nothing left: a later update that drains again reschedules
    }
  }

  /**
   * @param counts streams staying per endpoint of a round, or null for a draining step
   */
  private void report(String reason, int ended, @Nullable int[] counts) {
    if (ended == 0) {
      return;
    }
    listener.ended(reason, ended);
    logger.log(
        ChannelLogLevel.INFO,
        "{0}: asked {1} streams to move ({2}){3}",
        policyName,
        ended,
        reason,
        counts == null ? "" : "; streams staying per endpoint were " + Arrays.toString(counts));
  }

  /** Endpoints being drained (for tests). */
  int draining() {
    return drainDeadlines.size();
  }
}
