package io.github.kubegrpclb.core;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The load of one endpoint for {@code peak_ewma}: a peak-EWMA latency estimate and the number of
 * RPCs in flight. Outlives pickers (the balancer owns one per endpoint).
 *
 * <p>Thread-safe and lock-free: RPC completions update it from transport threads while pickers read
 * it; the estimate is an immutable snapshot swapped by compare-and-set.
 */
final class EndpointLoad {
  /*
   * Peak EWMA, as in Finagle's PeakEwma and tower's peak_ewma (used by Linkerd):
   * a sample above the estimate replaces it at once (the peak), so a slowdown is seen after one
   * RPC; a lower sample is blended in with weight 1 - exp(-elapsed / tau), so recovery is
   * gradual. Reading the cost also decays the estimate toward zero over idle time, so an
   * endpoint that stopped getting traffic because it was slow is eventually probed again.
   * cost = estimate * (inFlight + 1): latency times queue depth.
   * An endpoint with no sample yet is probed first, as Finagle does: it costs 0 while idle, and
   * the default RTT times (inFlight + 1) while its first RPCs are out, so a new pod gets a few
   * probes at once, not a flood. The first real sample then replaces the default, so a 30 ms
   * default neither lingers for tau over pods that answer in 1 ms nor starves a new pod.
   */
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicReference<Estimate> estimate;

  EndpointLoad(long defaultRttNanos, long nowNanos) {
    this.estimate = new AtomicReference<>(new Estimate(defaultRttNanos, nowNanos, false));
  }

  /** The cost P2C compares; lower is better. Allocates nothing. */
  double cost(long nowNanos, double decayNanos) {
    Estimate e = estimate.get();
    int pending = inFlight.get();
    if (!e.measured && pending == 0) {
      return 0;
    }
    return decayed(e, nowNanos, decayNanos) * (pending + 1);
  }

  /**
   * The cost scaled by a factor common to all endpoints: {@code cost(now) / exp(-(now - ref) /
   * tau)}. Comparing endpoints this way gives the same order as {@link #cost} at any {@code now},
   * so a picker needs no clock read and one {@code exp} per candidate.
   */
  double relativeCost(long referenceNanos, double decayNanos) {
    Estimate e = estimate.get();
    int pending = inFlight.get();
    if (!e.measured && pending == 0) {
      return 0;
    }
    double exponent = (e.stampNanos - referenceNanos) / decayNanos;
    return e.rttNanos * Math.exp(Math.max(-700, Math.min(700, exponent))) * (pending + 1);
  }

  /** When the estimate was last updated. */
  long stampNanos() {
    return estimate.get().stampNanos;
  }

  /** Latency estimate in nanoseconds as of {@code nowNanos}, decayed over idle time. */
  double estimateNanos(long nowNanos, double decayNanos) {
    return decayed(estimate.get(), nowNanos, decayNanos);
  }

  int inFlight() {
    return inFlight.get();
  }

  void rpcStarted() {
    inFlight.incrementAndGet();
  }

  void rpcFinished() {
    inFlight.decrementAndGet();
  }

  /** Forgets the history: back to {@code defaultRttNanos}, unmeasured (probed first). */
  void reset(long defaultRttNanos, long nowNanos) {
    estimate.set(new Estimate(defaultRttNanos, nowNanos, false));
  }

  /** Folds one latency sample into the estimate. */
  void observe(long rttNanos, long nowNanos, double decayNanos) {
    while (true) {
      Estimate prev = estimate.get();
      double next;
      if (!prev.measured || rttNanos > prev.rttNanos) {
        next = rttNanos;
      } else {
        double w = weightOfPast(nowNanos - prev.stampNanos, decayNanos);
        next = prev.rttNanos * w + rttNanos * (1 - w);
      }
      if (estimate.compareAndSet(
          prev, new Estimate(next, Math.max(nowNanos, prev.stampNanos), true))) {
        return;
      }
    }
  }

  private static double decayed(Estimate e, long nowNanos, double decayNanos) {
    return e.rttNanos * weightOfPast(nowNanos - e.stampNanos, decayNanos);
  }

  private static double weightOfPast(long elapsedNanos, double decayNanos) {
    return elapsedNanos <= 0 ? 1.0 : Math.exp(-elapsedNanos / decayNanos);
  }

  private static final class Estimate {
    final double rttNanos;
    final long stampNanos;
    final boolean measured;

    Estimate(double rttNanos, long stampNanos, boolean measured) {
      this.rttNanos = rttNanos;
      this.stampNanos = stampNanos;
      this.measured = measured;
    }
  }
}
