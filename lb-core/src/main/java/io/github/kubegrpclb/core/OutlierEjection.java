package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer.Subchannel;
import io.grpc.SynchronizationContext;
import io.grpc.SynchronizationContext.ScheduledHandle;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.annotation.Nullable;

/**
 * Takes endpoints that fail, hang or lag out of rotation and brings them back, for both policies.
 *
 * <p>Detection, from unary RPCs that reached the endpoint ({@link RpcOutcome}):
 *
 * <ul>
 *   <li>a streak of {@code consecutiveFailures} failed RPCs (Envoy's and grpc-java's rule);
 *   <li>silence: every RPC sent to the READY endpoint unanswered for {@code unresponsiveTime}, and
 *       at least {@value #UNRESPONSIVE_FACTOR} times the fleet's median latency, while most of its
 *       peers answered (a hung pod or a partition, with or without deadlines; checked four times
 *       per {@code unresponsiveTime}, or every interval if shorter);
 *   <li>every {@code interval}, among endpoints with {@code successRateRequestVolume} RPCs (at
 *       least {@code successRateMinimumHosts} of them; under low traffic the window grows, up to 10
 *       intervals, until they have), a success rate below {@code mean - stdevFactor x stdev} whose
 *       failure rate is also significantly above the others' (z above 3), and a mean latency above
 *       {@code slowFactor} times the fleet median (and {@value IntervalRules#SLOW_MIN_GAP_MS} ms
 *       above it; {@value IntervalRules#SLOW_VOLUME} successes needed).
 * </ul>
 *
 * <p>A failure shared by most endpoints is the client's or the network's, not a sick pod's: a
 * streak of unanswered failures (timeouts, lost connections) or a silence is not acted on while
 * more than half of the endpoints in rotation are in the same state (a client-side blip, a GC
 * pause). Answered failures (the server returned the error) are each pod's own. Never more than
 * {@code maxEjectionPercent} of the endpoints are out at once (the panic threshold).
 *
 * <p>Re-admission: after {@code baseEjectionTime x times ejected} (capped) the balancer sends its
 * own probe over the endpoint's connection ({@code grpc.health.v1.Health/Check}; any answer proves
 * the pod reachable, a probe that times out is repeated every {@code probeTimeout}); an endpoint
 * that answered is back on probation: its first failed RPC ejects it again at once, for longer, and
 * only real successes ({@code consecutiveFailures} RPCs in a row answered with a code outside the
 * failure codes, and after an ejection for latency no slower than what ejected it) end the
 * probation. The count of times drops by one per 10 s without an ejection (once per interval if
 * that is longer).
 *
 * <p>Not thread-safe: runs in the channel's SynchronizationContext; RPC outcomes reach it from
 * {@link OutcomeCounts} triggers through that context.
 */
final class OutlierEjection {
  static final int UNRESPONSIVE_FACTOR = 10;
  // Extra silence checks of a re-admitted endpoint, a quarter of the probation limit apart.
  private static final int PROBATION_CHECKS = 20;
  private static final long DECAY_NANOS = TimeUnit.SECONDS.toNanos(10);

  /** Probes an ejected endpoint; calls back, from any thread, with whether it answered. */
  interface Prober {
    void probe(Subchannel subchannel, long timeoutNanos, Consumer<Boolean> answered);
  }

  /**
   * Ejection's state of one endpoint, written in the SynchronizationContext, and the outcome counts
   * its RPCs' tracers write from any thread. It is created when ejection is first on for the
   * endpoint, and kept (disarmed) while ejection is off.
   */
  private static final class Ejection {
    final OutcomeCounts outcomes = new OutcomeCounts();
    volatile boolean ejected; // read by snapshots and gauges from other threads
    int times; // times ejected, decayed
    @Nullable ScheduledHandle timer; // the probe's, or the probation check's
  }

  private static final Endpoint.Slot<Ejection> SLOT = Endpoint.Slot.of(Ejection.class);
  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService timerService;
  private final java.util.function.LongSupplier nanoClock;
  private final Prober prober;
  private final Runnable onChange;
  private final Consumer<Endpoint<?>> onReadmitted;
  private OutlierEjectionConfig config =
      OutlierEjectionConfig.parse("policy", java.util.Map.of("enabled", false));
  // One timer: checks silence every checkNanos and evaluates the interval every interval; null
  // while ejection is off or stopped.
  @Nullable private SynchronizationContext.ScheduledHandle timer;
  private long checkNanos;
  private long sinceIntervalNanos;
  private long sinceDecayNanos;
  private Collection<? extends Endpoint<?>> endpoints = List.of();
  private final IntervalRules rules =
      new IntervalRules(this::isEjected, this::eject, this::countsOf);
  private final SilenceRules silence = new SilenceRules(this::isEjected, this::countsOf);

  /**
   * @param nanoClock the clock RPCs are timed with
   * @param onChange called (in the context) after an endpoint was ejected or re-admitted
   * @param onReadmitted called (in the context) for an endpoint put back on probation, before
   *     {@code onChange}: a policy forgets what kept it away (peak_ewma's failure penalty), or the
   *     endpoint would never get the RPC that ends its probation
   */
  OutlierEjection(
      SynchronizationContext syncContext,
      ScheduledExecutorService timerService,
      java.util.function.LongSupplier nanoClock,
      Prober prober,
      Runnable onChange,
      Consumer<Endpoint<?>> onReadmitted) {
    this.syncContext = syncContext;
    this.timerService = timerService;
    this.nanoClock = nanoClock;
    this.prober = prober;
    this.onChange = onChange;
    this.onReadmitted = onReadmitted;
  }

  /** Applies a config to the current endpoint set (a live view, read on every decision). */
  void update(OutlierEjectionConfig newConfig, Collection<? extends Endpoint<?>> endpoints) {
    this.endpoints = endpoints;
    boolean timersChanged =
        newConfig.intervalNanos != config.intervalNanos
            || newConfig.unresponsiveNanos != config.unresponsiveNanos;
    this.config = newConfig;
    if (!newConfig.enabled) {
      stop();
      boolean any = false;
      // Endpoints keep what they have (how often each was ejected counts again if ejection comes
      // back); none gets new state while ejection is off, so a fleet without it pays nothing.
      for (Endpoint<?> endpoint : endpoints) {
        Ejection state = endpoint.get(SLOT);
        if (state != null) {
          any |= state.ejected;
          readmit(endpoint, false);
          state.outcomes.arm(Integer.MAX_VALUE, () -> {});
        }
      }
      if (any) {
        onChange.run();
      }
      return;
    }
    for (Endpoint<?> endpoint : endpoints) {
      arm(endpoint);
    }
    if (timer == null || timersChanged) {
      stop();
      checkNanos =
          Math.min(config.intervalNanos, Math.max(1_000_000, config.unresponsiveNanos / 4));
      sinceIntervalNanos = 0;
      timer =
          syncContext.scheduleWithFixedDelay(
              this::tick, checkNanos, checkNanos, TimeUnit.NANOSECONDS, timerService);
    }
  }

  /** Whether {@code endpoint} is ejected; any thread. */
  boolean isEjected(Endpoint<?> endpoint) {
    Ejection state = endpoint.get(SLOT);
    return state != null && state.ejected;
  }

  /**
   * The balancer shut {@code endpoint} down: its state goes, and RPCs still in flight on it no
   * longer trigger anything.
   */
  void forget(Endpoint<?> endpoint) {
    Ejection state = endpoint.get(SLOT);
    if (state != null) {
      if (state.timer != null) {
        state.timer.cancel();
      }
      state.outcomes.arm(Integer.MAX_VALUE, () -> {});
      endpoint.set(SLOT, null);
    }
  }

  /**
   * The counts of {@code endpoint}'s RPC outcomes, which its tracers write; null while ejection has
   * never been on for it (every endpoint has counts from the {@link #update} that turned it on). A
   * read; any thread.
   */
  @Nullable
  OutcomeCounts outcomes(Endpoint<?> endpoint) {
    Ejection state = endpoint.get(SLOT);
    return state == null ? null : state.outcomes;
  }

  /** The counts of an endpoint while ejection is on. */
  private OutcomeCounts countsOf(Endpoint<?> endpoint) {
    return stateOf(endpoint).outcomes;
  }

  /** Ejection's state of an endpoint, created when ejection first needs it; in the context. */
  private Ejection stateOf(Endpoint<?> endpoint) {
    Ejection state = endpoint.get(SLOT);
    if (state == null) {
      state = new Ejection();
      endpoint.set(SLOT, state);
    }
    return state;
  }

  /** Stops every timer; ejected endpoints stay as they are until shut down. */
  void stop() {
    if (timer != null) {
      timer.cancel();
      timer = null;
    }
  }

  /** The endpoint reconnected after a failure: what its old connection did is history. */
  void reconnected(Endpoint<?> endpoint) {
    OutcomeCounts outcomes = outcomes(endpoint);
    if (outcomes != null) {
      outcomes.reset(outcomes.onProbation());
    }
  }

  private void arm(Endpoint<?> endpoint) {
    countsOf(endpoint)
        .arm(config.consecutiveFailures, () -> syncContext.execute(() -> onTrigger(endpoint)));
  }

  private void onTrigger(Endpoint<?> endpoint) {
    if (!config.enabled || endpoint.isRemoved() || isEjected(endpoint)) {
      return;
    }
    OutcomeCounts outcomes = countsOf(endpoint);
    long now = nanoClock.getAsLong();
    if (outcomes.failingUnanswered() && silence.shared(endpoints, outcomes.silentNanos(now), now)) {
      return; // most endpoints stopped answering at once: the network or this client
    }
    if (eject(endpoint)) {
      onChange.run();
    }
  }

  private void tick() {
    sinceIntervalNanos += checkNanos;
    if (sinceIntervalNanos >= config.intervalNanos) {
      sinceIntervalNanos -= config.intervalNanos;
      evaluateInterval();
    }
    checkSilence();
  }

  /** How long an endpoint on probation may leave its RPCs unanswered. */
  private long probationLimitNanos() {
    return Math.max(config.unresponsiveNanos / 20, UNRESPONSIVE_FACTOR * rules.fleetLatencyNanos());
  }

  private void checkSilence() {
    long now = nanoClock.getAsLong();
    long limit =
        Math.max(config.unresponsiveNanos, UNRESPONSIVE_FACTOR * rules.fleetLatencyNanos());
    long probationLimit = probationLimitNanos();
    List<Endpoint<?>> silent = silence.silent(endpoints, now, limit, probationLimit);
    if (silent == null) {
      return;
    }
    boolean changed = false;
    for (Endpoint<?> endpoint : silent) {
      changed |= eject(endpoint);
    }
    if (changed) {
      onChange.run();
    }
  }

  private void evaluateInterval() {
    int n = endpoints.size();
    long[][] counts = new long[n][];
    Endpoint<?>[] all = new Endpoint<?>[n];
    int i = 0;
    for (Endpoint<?> endpoint : endpoints) {
      all[i] = endpoint;
      counts[i++] = countsOf(endpoint).drainInterval();
    }
    List<Endpoint<?>> ejectedNow = new ArrayList<>();
    rules.ejectBySuccessRate(config, all, ejectedNow);
    rules.ejectByLatency(config, all, counts, ejectedNow);
    // The count of times ejected falls by one per DECAY without an ejection (Envoy: per 10 s
    // interval), however short the interval: a pod that keeps failing is out for ever longer.
    sinceDecayNanos += config.intervalNanos;
    if (sinceDecayNanos < DECAY_NANOS) {
      if (!ejectedNow.isEmpty()) {
        onChange.run();
      }
      return;
    }
    sinceDecayNanos = 0;
    for (Endpoint<?> endpoint : all) {
      Ejection state = endpoint.get(SLOT);
      if (state != null
          && !state.ejected
          && !state.outcomes.onProbation()
          && state.times > 0
          && !ejectedNow.contains(endpoint)) {
        state.times--;
      }
    }
    if (!ejectedNow.isEmpty()) {
      onChange.run();
    }
  }

  /** Ejects unless the panic threshold forbids; returns whether it did. */
  private boolean eject(Endpoint<?> endpoint) {
    int out = 0;
    for (Endpoint<?> other : endpoints) {
      out += isEjected(other) ? 1 : 0;
    }
    if (out + 1 > config.maxEjected(endpoints.size())) {
      return false;
    }
    Ejection state = stateOf(endpoint);
    state.ejected = true;
    state.times++;
    state.timer =
        syncContext.schedule(
            () -> probe(endpoint),
            config.ejectionNanos(state.times),
            TimeUnit.NANOSECONDS,
            timerService);
    return true;
  }

  private void probe(Endpoint<?> endpoint) {
    Ejection state = endpoint.get(SLOT);
    if (state == null) {
      return; // forgotten: the endpoint was removed
    }
    state.timer = null;
    if (endpoint.isRemoved() || !state.ejected) {
      return;
    }
    prober.probe(
        endpoint.subchannel(),
        config.probeTimeoutNanos,
        answered -> syncContext.execute(() -> onProbeResult(endpoint, answered)));
  }

  private void onProbeResult(Endpoint<?> endpoint, boolean answered) {
    Ejection state = endpoint.get(SLOT);
    if (state == null || endpoint.isRemoved() || !state.ejected) {
      return;
    }
    if (answered) {
      readmit(endpoint, true);
      onReadmitted.accept(endpoint);
      onChange.run();
      // A pod whose probe answers but whose RPCs hang (a deadlocked handler) is caught about one
      // probation limit after its first RPCs, not at the next regular check.
      checkProbation(endpoint, PROBATION_CHECKS);
    } else {
      state.timer =
          syncContext.schedule(
              () -> probe(endpoint), config.probeTimeoutNanos, TimeUnit.NANOSECONDS, timerService);
    }
  }

  private void checkProbation(Endpoint<?> endpoint, int checksLeft) {
    Ejection state = endpoint.get(SLOT);
    if (state == null || endpoint.isRemoved() || state.ejected) {
      return; // forgotten, or ejected meanwhile: the timer is its probe's now
    }
    state.timer = null;
    if (!state.outcomes.onProbation()) {
      return;
    }
    checkSilence();
    if (!state.ejected && checksLeft > 1) {
      state.timer =
          syncContext.schedule(
              () -> checkProbation(endpoint, checksLeft - 1),
              Math.max(1_000_000, probationLimitNanos() / 4),
              TimeUnit.NANOSECONDS,
              timerService);
    }
  }

  private void readmit(Endpoint<?> endpoint, boolean onProbation) {
    Ejection state = stateOf(endpoint);
    state.ejected = false;
    if (state.timer != null) {
      state.timer.cancel();
      state.timer = null;
    }
    state.outcomes.reset(onProbation);
  }
}
