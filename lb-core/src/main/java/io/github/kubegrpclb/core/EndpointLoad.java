package io.github.kubegrpclb.core;

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
final class EndpointLoad {
  /*
   * Peak EWMA, as in Finagle's PeakEwma and tower's peak_ewma (used by Linkerd):
   * a sample above the estimate replaces it at once (the peak), so a slowdown is seen after one
   * RPC; a lower sample is blended in with weight 1 - exp(-elapsed / tau), so recovery is
   * gradual. Reading the cost also decays the estimate toward zero over idle time, so an
   * endpoint that stopped getting traffic because it was slow is eventually probed again.
   * cost = latency * (inFlight + 1): latency times queue depth.
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
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicReference<Estimate> estimate;
  private final AtomicLong progressNanos;
  private final AtomicLong pushbackUntilNanos;

  EndpointLoad(long defaultRttNanos, long nowNanos) {
    this.estimate = new AtomicReference<>(new Estimate(defaultRttNanos, nowNanos, false));
    this.progressNanos = new AtomicLong(nowNanos);
    this.pushbackUntilNanos = new AtomicLong(nowNanos);
  }

  /** The cost P2C compares, as of {@code nowNanos}; lower is better. Allocates nothing. */
  double cost(long nowNanos, double decayNanos) {
    int pending = inFlight.get();
    Estimate e = estimate.get();
    double latency;
    if (!e.measured()) {
      latency = pending == 0 ? 0 : e.rttNanos();
    } else {
      latency = decayed(e, nowNanos, decayNanos);
    }
    if (pending > 0) {
      latency = Math.max(latency, (double) (nowNanos - progressNanos.get()));
    }
    latency = Math.max(latency, (double) (pushbackUntilNanos.get() - nowNanos));
    return latency * (pending + 1);
  }

  /** Latency estimate in nanoseconds as of {@code nowNanos}, decayed over idle time. */
  double estimateNanos(long nowNanos, double decayNanos) {
    return decayed(estimate.get(), nowNanos, decayNanos);
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
    estimate.set(new Estimate(defaultRttNanos, nowNanos, false));
    pushbackUntilNanos.set(nowNanos);
    advanceProgress(nowNanos);
  }

  /** Folds one latency sample into the estimate. */
  void observe(long rttNanos, long nowNanos, double decayNanos) {
    while (true) {
      Estimate prev = estimate.get();
      double next;
      if (!prev.measured() || rttNanos > prev.rttNanos()) {
        next = rttNanos;
      } else {
        double w = weightOfPast(nowNanos - prev.stampNanos(), decayNanos);
        next = prev.rttNanos() * w + rttNanos * (1 - w);
      }
      if (estimate.compareAndSet(
          prev, new Estimate(next, Math.max(nowNanos, prev.stampNanos()), true))) {
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

  private static double decayed(Estimate e, long nowNanos, double decayNanos) {
    return e.rttNanos() * weightOfPast(nowNanos - e.stampNanos(), decayNanos);
  }

  private static double weightOfPast(long elapsedNanos, double decayNanos) {
    return elapsedNanos <= 0 ? 1.0 : Math.exp(-elapsedNanos / decayNanos);
  }

  private record Estimate(double rttNanos, long stampNanos, boolean measured) {}
}
