package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer.Subchannel;
import io.grpc.SynchronizationContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Takes endpoints that fail, hang or lag out of rotation and brings them back, for both policies.
 *
 * <p>Detection, from unary RPCs that reached the endpoint ({@link RpcOutcome}):
 *
 * <ul>
 *   <li>a streak of {@code consecutiveFailures} failed RPCs (Envoy's and grpc-java's rule);
 *   <li>silence: every RPC sent to the endpoint unanswered for {@code unresponsiveTime}, and at
 *       least {@value #UNRESPONSIVE_FACTOR} times the fleet's median latency, while most of its
 *       peers answered (a hung pod or a partition, with or without deadlines; checked four times
 *       per {@code unresponsiveTime}, or every interval if shorter);
 *   <li>every {@code interval}, among endpoints with {@code successRateRequestVolume} RPCs (at
 *       least {@code successRateMinimumHosts} of them; under low traffic the window grows, up to 10
 *       intervals, until they have), a success rate below {@code mean - stdevFactor x stdev} whose
 *       failure rate is also significantly above the others' (z above 3), and a mean latency above
 *       {@code slowFactor} times the fleet median (and {@value #SLOW_MIN_GAP_MS} ms above it;
 *       {@value #SLOW_VOLUME} successes needed).
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
  static final int SLOW_MIN_GAP_MS = 5;
  static final int SLOW_VOLUME = 20;
  private static final double MIN_FAILURE_RATE = 0.01;
  // Extra silence checks of a re-admitted endpoint, a quarter of the probation limit apart.
  private static final int PROBATION_CHECKS = 20;
  private static final long DECAY_NANOS = TimeUnit.SECONDS.toNanos(10);
  private static final int SUCCESS_RATE_INTERVALS = 10;

  /** Probes an ejected endpoint; calls back, from any thread, with whether it answered. */
  interface Prober {
    void probe(Subchannel subchannel, long timeoutNanos, Consumer<Boolean> answered);
  }

  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService timerService;
  private final java.util.function.LongSupplier nanoClock;
  private final Prober prober;
  private final Runnable onChange;
  private final Consumer<Endpoint<?>> onReadmitted;
  private OutlierEjectionConfig config =
      OutlierEjectionConfig.parse("policy", java.util.Map.of("enabled", false));
  // One timer: checks silence every checkNanos and evaluates the interval every interval.
  private SynchronizationContext.ScheduledHandle timer;
  private long checkNanos;
  private long sinceIntervalNanos;
  private long sinceDecayNanos;
  private int successRateIntervals; // intervals the success-rate window has lasted
  private Collection<? extends Endpoint<?>> endpoints = List.of();
  // The median of the endpoints' mean success latency over the last interval (0: unknown).
  private long fleetLatencyNanos;

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

  OutlierEjectionConfig config() {
    return config;
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
      for (Endpoint<?> endpoint : endpoints) {
        any |= endpoint.ejected;
        readmit(endpoint, false);
        endpoint.outcomes().arm(Integer.MAX_VALUE, () -> {});
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

  /** Stops every timer; ejected endpoints stay as they are until shut down. */
  void stop() {
    if (timer != null) {
      timer.cancel();
      timer = null;
    }
  }

  /** The endpoint reconnected after a failure: what its old connection did is history. */
  void reconnected(Endpoint<?> endpoint) {
    endpoint.outcomes().reset(endpoint.outcomes().onProbation());
  }

  private void arm(Endpoint<?> endpoint) {
    endpoint
        .outcomes()
        .arm(config.consecutiveFailures, () -> syncContext.execute(() -> onTrigger(endpoint)));
  }

  private void onTrigger(Endpoint<?> endpoint) {
    if (!config.enabled || endpoint.isRemoved() || endpoint.ejected) {
      return;
    }
    OutcomeCounts outcomes = endpoint.outcomes();
    if (outcomes.failingUnanswered() && shared(outcomes.silentNanos(nanoClock.getAsLong()))) {
      return; // most endpoints stopped answering at once: the network or this client
    }
    if (eject(endpoint)) {
      onChange.run();
    }
  }

  /**
   * Whether more than half of the endpoints in rotation are failing unanswered or have been silent
   * for at least half of {@code silentNanos}.
   */
  private boolean shared(long silentNanos) {
    long now = nanoClock.getAsLong();
    long half = Math.max(1, silentNanos / 2);
    int inRotation = 0;
    int troubled = 0;
    for (Endpoint<?> other : endpoints) {
      if (!other.ejected) {
        inRotation++;
        OutcomeCounts outcomes = other.outcomes();
        if (outcomes.failingUnanswered() || outcomes.silentNanos(now) >= half) {
          troubled++;
        }
      }
    }
    return troubled * 2 > inRotation;
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
    return Math.max(config.unresponsiveNanos / 20, UNRESPONSIVE_FACTOR * fleetLatencyNanos);
  }

  private void checkSilence() {
    long now = nanoClock.getAsLong();
    long limit = Math.max(config.unresponsiveNanos, UNRESPONSIVE_FACTOR * fleetLatencyNanos);
    long probationLimit = probationLimitNanos();
    List<Endpoint<?>> silent = null;
    for (Endpoint<?> endpoint : endpoints) {
      long silentNanos = endpoint.outcomes().silentNanos(now);
      if (!endpoint.ejected
          && silentNanos >= (endpoint.outcomes().onProbation() ? probationLimit : limit)
          && peersAnsweredSince(endpoint, now - silentNanos)) {
        if (silent == null) {
          silent = new ArrayList<>();
        }
        silent.add(endpoint);
      }
    }
    if (silent == null) {
      return; // a silence shared by most endpoints fails peersAnsweredSince: not acted on
    }
    boolean changed = false;
    for (Endpoint<?> endpoint : silent) {
      changed |= eject(endpoint);
    }
    if (changed) {
      onChange.run();
    }
  }

  /**
   * Whether more than half of the other endpoints in rotation answered since {@code sinceNanos}:
   * the evidence that the silence is the endpoint's, not idleness or the network's.
   */
  private boolean peersAnsweredSince(Endpoint<?> silent, long sinceNanos) {
    int others = 0;
    int answered = 0;
    for (Endpoint<?> other : endpoints) {
      if (other != silent && !other.ejected) {
        others++;
        answered += other.outcomes().answeredSince(sinceNanos) ? 1 : 0;
      }
    }
    return answered * 2 > others;
  }

  private void evaluateInterval() {
    int n = endpoints.size();
    long[][] counts = new long[n][];
    Endpoint<?>[] all = new Endpoint<?>[n];
    int i = 0;
    for (Endpoint<?> endpoint : endpoints) {
      all[i] = endpoint;
      counts[i++] = endpoint.outcomes().drainInterval();
    }
    List<Endpoint<?>> ejectedNow = new ArrayList<>();
    ejectBySuccessRate(all, ejectedNow);
    ejectByLatency(all, counts, ejectedNow);
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
      if (!endpoint.ejected
          && !endpoint.outcomes().onProbation()
          && endpoint.timesEjected > 0
          && !ejectedNow.contains(endpoint)) {
        endpoint.timesEjected--;
      }
    }
    if (!ejectedNow.isEmpty()) {
      onChange.run();
    }
  }

  /*
   * Success rate, as Envoy and grpc-java: below mean - factor x stdev of the endpoints with enough
   * requests. With short intervals that rule alone ejects noise (3 failures in 100 among peers at
   * 0 or 1 are "below" it), so the endpoint's failure rate must also be significantly above the
   * others' pooled rate p0 (floored at 1 %): z = (rate - p0) / sqrt(p0 (1 - p0) / n) above 3.
   */
  private void ejectBySuccessRate(Endpoint<?>[] all, List<Endpoint<?>> out) {
    long[][] counts = new long[all.length][];
    int withVolume = 0;
    for (int i = 0; i < all.length; i++) {
      counts[i] = all[i].outcomes().successRateWindow(false);
      withVolume += !all[i].ejected && counts[i][0] + counts[i][1] >= config.requestVolume ? 1 : 0;
    }
    // Under low traffic the window spans several intervals, until enough endpoints have the
    // request volume (at most SUCCESS_RATE_INTERVALS, then it starts again).
    if (withVolume < config.minimumHosts && ++successRateIntervals < SUCCESS_RATE_INTERVALS) {
      return;
    }
    successRateIntervals = 0;
    for (int i = 0; i < all.length; i++) {
      counts[i] = all[i].outcomes().successRateWindow(true);
    }
    double sum = 0;
    double sumSquares = 0;
    int hosts = 0;
    long totalRequests = 0;
    long totalFailures = 0;
    for (int i = 0; i < all.length; i++) {
      long total = counts[i][0] + counts[i][1];
      if (!all[i].ejected && total >= config.requestVolume) {
        double rate = (double) counts[i][0] / total;
        sum += rate;
        sumSquares += rate * rate;
        hosts++;
        totalRequests += total;
        totalFailures += counts[i][1];
      }
    }
    if (hosts < config.minimumHosts) {
      return;
    }
    double mean = sum / hosts;
    double stdev = Math.sqrt(Math.max(0, sumSquares / hosts - mean * mean));
    double threshold = mean - config.stdevFactor * stdev;
    for (int i = 0; i < all.length; i++) {
      long total = counts[i][0] + counts[i][1];
      if (all[i].ejected || total < config.requestVolume) {
        continue;
      }
      double rate = (double) counts[i][0] / total;
      double others =
          totalRequests == total
              ? 0
              : (double) (totalFailures - counts[i][1]) / (totalRequests - total);
      double p0 = Math.max(MIN_FAILURE_RATE, others);
      double z = ((1 - rate) - p0) / Math.sqrt(p0 * (1 - p0) / total);
      if (rate < threshold && z > 3 && eject(all[i])) {
        out.add(all[i]);
      }
    }
  }

  /*
   * Latency, as the closest Java peer (grpc-peak-ewma-lb) ejects a pod 2.5x slower than the fleet
   * median: each endpoint's mean success latency over the interval against the median of those
   * means. The median also sets how long a silence must last (checkSilence).
   */
  private void ejectByLatency(Endpoint<?>[] all, long[][] counts, List<Endpoint<?>> out) {
    long[] means = new long[all.length];
    int answering = 0;
    int measured = 0;
    for (int i = 0; i < all.length; i++) {
      if (!all[i].ejected && counts[i][0] > 0) {
        means[answering++] = counts[i][2] / counts[i][0];
        measured += counts[i][0] >= SLOW_VOLUME ? 1 : 0;
      }
    }
    if (answering == 0) {
      return; // keep the last known fleet latency
    }
    Arrays.sort(means, 0, answering);
    fleetLatencyNanos = means[answering / 2];
    if (config.slowFactor <= 0 || measured < config.minimumHosts) {
      return;
    }
    long[] sorted = new long[measured];
    int k = 0;
    for (int i = 0; i < all.length; i++) {
      if (!all[i].ejected && counts[i][0] >= SLOW_VOLUME) {
        sorted[k++] = counts[i][2] / counts[i][0];
      }
    }
    Arrays.sort(sorted);
    long median = sorted[measured / 2];
    long gap = TimeUnit.MILLISECONDS.toNanos(SLOW_MIN_GAP_MS);
    for (int i = 0; i < all.length; i++) {
      if (all[i].ejected || counts[i][0] < SLOW_VOLUME) {
        continue;
      }
      long mean = counts[i][2] / counts[i][0];
      if (mean > config.slowFactor * median && mean - median >= gap && eject(all[i])) {
        // Re-admission takes a probe's answer, which a slow pod gives: its probation must also
        // see its RPCs answered faster than what ejected it, or it is back for a whole interval.
        all[i]
            .outcomes()
            .ejectedForLatency(Math.max((long) (config.slowFactor * median), median + gap));
        out.add(all[i]);
      }
    }
  }

  /** Ejects unless the panic threshold forbids; returns whether it did. */
  private boolean eject(Endpoint<?> endpoint) {
    int out = 0;
    for (Endpoint<?> other : endpoints) {
      out += other.ejected ? 1 : 0;
    }
    if (out + 1 > config.maxEjected(endpoints.size())) {
      return false;
    }
    endpoint.ejected = true;
    endpoint.timesEjected++;
    endpoint.ejectionTimer =
        syncContext.schedule(
            () -> probe(endpoint),
            config.ejectionNanos(endpoint.timesEjected),
            TimeUnit.NANOSECONDS,
            timerService);
    return true;
  }

  private void probe(Endpoint<?> endpoint) {
    endpoint.ejectionTimer = null;
    if (endpoint.isRemoved() || !endpoint.ejected) {
      return;
    }
    prober.probe(
        endpoint.subchannel(),
        config.probeTimeoutNanos,
        answered -> syncContext.execute(() -> onProbeResult(endpoint, answered)));
  }

  private void onProbeResult(Endpoint<?> endpoint, boolean answered) {
    if (endpoint.isRemoved() || !endpoint.ejected) {
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
      endpoint.ejectionTimer =
          syncContext.schedule(
              () -> probe(endpoint), config.probeTimeoutNanos, TimeUnit.NANOSECONDS, timerService);
    }
  }

  private void checkProbation(Endpoint<?> endpoint, int checksLeft) {
    if (endpoint.isRemoved() || endpoint.ejected) {
      return; // ejected meanwhile: ejectionTimer is its probe's now
    }
    endpoint.ejectionTimer = null;
    if (!endpoint.outcomes().onProbation()) {
      return;
    }
    checkSilence();
    if (!endpoint.ejected && checksLeft > 1) {
      endpoint.ejectionTimer =
          syncContext.schedule(
              () -> checkProbation(endpoint, checksLeft - 1),
              Math.max(1_000_000, probationLimitNanos() / 4),
              TimeUnit.NANOSECONDS,
              timerService);
    }
  }

  private static void readmit(Endpoint<?> endpoint, boolean onProbation) {
    endpoint.ejected = false;
    if (endpoint.ejectionTimer != null) {
      endpoint.ejectionTimer.cancel();
      endpoint.ejectionTimer = null;
    }
    endpoint.outcomes().reset(onProbation);
  }
}
