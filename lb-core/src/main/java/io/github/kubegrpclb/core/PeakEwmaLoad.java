package io.github.kubegrpclb.core;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The load of one endpoint for {@code peak_ewma}: a peak-EWMA latency estimate, the unary RPCs in
 * flight, how long the endpoint has gone without finishing any of them, and a pushback the server
 * asked for. Outlives pickers (the balancer owns one per endpoint).
 *
 * <p>Thread-safe and lock-free: RPC completions update it from transport threads while pickers read
 * it; the estimate is an immutable snapshot swapped by compare-and-set.
 */
final class PeakEwmaLoad {
  /*
   * Peak EWMA, as in Finagle's PeakEwma and tower's peak_ewma (used by Linkerd):
   * a sample above the estimate replaces it at once (the peak), so a slowdown is seen after one
   * RPC; a lower sample is blended in with weight 1 - w, so recovery is gradual.
   * cost = latency * (inFlight + 1): latency times queue depth.
   *
   * Aging (see FleetLatency): w = exp(-elapsed / tau - fleetSamples / (ROUNDS * endpoints)),
   * counted from the estimate's last sample, and between samples the estimate reads as
   * w * estimate + (1 - w) * target: the part of its weight that has aged away is filled by half
   * the fleet's typical latency until a sample fills it. Finagle and tower decay by elapsed time only
   * and toward zero; counting the fleet's samples too makes an estimate nobody refreshes reach
   * its peers after a bounded share of the traffic, whatever the rate, so a pod that was slow once
   * is probed again. For an endpoint refreshed at its fair rate, one of its samples weighs about
   * 1 / ROUNDS: a peak fades over about ROUNDS of its own samples, not over tau of time.
   * A probe costs one slow RPC, so probing backs off like outlier ejection does: each sample above
   * SLOW times the typical latency doubles the endpoint's patience (the fleet samples count
   * 1 / patience as much, up to MAX_PATIENCE), and a sample within NORMAL times the typical
   * latency resets it. A pod slow once is probed again after ROUNDS rounds; a pod that stays
   * slow, after 2, 4, then 8 times as many.
   *
   * Two lower bounds keep the estimate honest about what has not come back yet (Finagle and
   * tower only learn from completed RPCs, so a pod that stops answering looks ever cheaper as
   * its last sample decays):
   * - the stall: while RPCs are pending, the latency is at least the time since the endpoint
   *   last made progress (finished an RPC, or went from idle to busy). That time is a lower
   *   bound on the age of its oldest pending RPC: if the oldest pending RPC had started after
   *   that moment, some RPC in flight just before it must have finished later, which is
   *   progress. It needs two timestamps, not a queue of start times.
   * - the pushback: after a server sent grpc-retry-pushback-ms, the latency is at least the
   *   time left until the pushback ends.
   * An endpoint with no sample yet is probed first, as Finagle does: it costs 0 while idle,
   * and the default RTT (undecayed: a new pod whose first RPCs hang must not get cheaper) times
   * (inFlight + 1) while its first RPCs are out, so a new pod gets a few probes at once, not a
   * flood. The first real sample then replaces the default.
   */
  private static final double SLOW = 4;
  private static final double NORMAL = 2;
  private static final int MAX_PATIENCE = 8;

  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicReference<Estimate> estimate;
  private final AtomicLong progressNanos;
  private final AtomicLong pushbackUntilNanos;

  PeakEwmaLoad(long defaultRttNanos, long nowNanos) {
    this.estimate = new AtomicReference<>(new Estimate(defaultRttNanos, nowNanos, 0, 1, false));
    this.progressNanos = new AtomicLong(nowNanos);
    this.pushbackUntilNanos = new AtomicLong(nowNanos);
  }

  /** The cost P2C compares, as of {@code nowNanos}; lower is better. Allocates nothing. */
  double cost(long nowNanos, double decayNanos, FleetLatency fleet) {
    return latency(nowNanos, decayNanos, fleet) * (inFlight.get() + 1);
  }

  /**
   * The latency part of the cost: the aged estimate, at least the stall while RPCs are pending and
   * the pushback time left. Allocates nothing.
   */
  double latency(long nowNanos, double decayNanos, FleetLatency fleet) {
    int pending = inFlight.get();
    Estimate e = estimate();
    double latency;
    if (!e.measured()) {
      latency = pending == 0 ? 0 : e.rttNanos();
    } else {
      latency = aged(e, nowNanos, decayNanos, fleet);
    }
    if (pending > 0) {
      latency = Math.max(latency, (double) (nowNanos - progressNanos.get()));
    }
    return Math.max(latency, (double) (pushbackUntilNanos.get() - nowNanos));
  }

  /**
   * Latency estimate in nanoseconds as of {@code nowNanos}, aged toward half the fleet's typical.
   */
  double estimateNanos(long nowNanos, double decayNanos, FleetLatency fleet) {
    Estimate e = estimate();
    return e.measured() ? aged(e, nowNanos, decayNanos, fleet) : e.rttNanos();
  }

  int inFlight() {
    return inFlight.get();
  }

  /** An RPC went out on the wire at {@code nowNanos}. */
  void rpcStarted(long nowNanos) {
    if (inFlight.incrementAndGet() == 1) {
      advanceProgress(nowNanos); // idle -> busy: nothing is stuck yet
    }
  }

  /** An RPC counted by {@link #rpcStarted} ended at {@code nowNanos}, however it ended. */
  void rpcFinished(long nowNanos) {
    advanceProgress(nowNanos);
    inFlight.decrementAndGet();
  }

  /** The server asked for no new RPCs until {@code untilNanos}. */
  void pushBack(long untilNanos) {
    long prev;
    do {
      prev = pushbackUntilNanos.get();
    } while (untilNanos > prev && !pushbackUntilNanos.compareAndSet(prev, untilNanos));
  }

  /** Forgets the history: back to {@code defaultRttNanos}, unmeasured (probed first). */
  void reset(long defaultRttNanos, long nowNanos) {
    estimate.set(new Estimate(defaultRttNanos, nowNanos, 0, 1, false));
    pushbackUntilNanos.set(nowNanos);
    advanceProgress(nowNanos);
  }

  /**
   * Folds one latency sample into the estimate; {@code fleetSamples} is the fleet's sample count
   * including this one (see {@link FleetLatency#record}).
   */
  void observe(
      long rttNanos, long nowNanos, long fleetSamples, double decayNanos, FleetLatency fleet) {
    while (true) {
      Estimate prev = estimate();
      double next;
      int patience = 1;
      if (prev.measured()) {
        double w =
            weightOfPast(
                prev, nowNanos, fleetSamples, decayNanos, fleet.agePerSample() / prev.patience());
        double target = fleet.agingTargetNanos();
        if (rttNanos > prev.rttNanos() * w + target * (1 - w)) {
          next = rttNanos; // above what the estimate reads now: the peak
        } else {
          next = prev.rttNanos() * w + rttNanos * (1 - w);
        }
        double typical = fleet.typicalNanos();
        if (rttNanos > SLOW * typical) {
          patience = Math.min(prev.patience() * 2, MAX_PATIENCE);
        } else if (rttNanos > NORMAL * typical) {
          patience = prev.patience();
        }
      } else {
        next = rttNanos; // the first sample replaces the default
      }
      Estimate update =
          new Estimate(
              next,
              Math.max(nowNanos, prev.stampNanos()),
              Math.max(fleetSamples, prev.stampSamples()),
              patience,
              true);
      if (estimate.compareAndSet(prev, update)) {
        return;
      }
    }
  }

  private void advanceProgress(long nowNanos) {
    long prev;
    do {
      prev = progressNanos.get();
    } while (nowNanos > prev && !progressNanos.compareAndSet(prev, nowNanos));
  }

  private static double aged(Estimate e, long nowNanos, double decayNanos, FleetLatency fleet) {
    double w =
        weightOfPast(e, nowNanos, fleet.samples(), decayNanos, fleet.agePerSample() / e.patience());
    return e.rttNanos() * w + fleet.agingTargetNanos() * (1 - w);
  }

  /** The weight the estimate {@code e} keeps: aged by time and by the fleet's samples since. */
  private static double weightOfPast(
      Estimate e, long nowNanos, long fleetSamples, double decayNanos, double agePerSample) {
    double age =
        Math.max(0, nowNanos - e.stampNanos()) / decayNanos
            + Math.max(0, fleetSamples - e.stampSamples()) * agePerSample;
    return age <= 0 ? 1.0 : Math.exp(-age);
  }

  // Never null: set in the constructor and only ever replaced by a new value. Allocates nothing.
  private Estimate estimate() {
    return Objects.requireNonNull(estimate.get(), "estimate");
  }

  /**
   * @param stampSamples the fleet's sample count when this estimate last took a sample
   * @param patience how many times slower than others this estimate ages with the fleet's samples
   */
  private record Estimate(
      double rttNanos, long stampNanos, long stampSamples, int patience, boolean measured) {}
}
