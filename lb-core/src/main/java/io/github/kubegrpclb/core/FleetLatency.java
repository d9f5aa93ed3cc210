package io.github.kubegrpclb.core;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What {@code peak_ewma} knows about the fleet as a whole: how many latency samples all its
 * endpoints have taken (the clock that ages an estimate nobody refreshes) and the fleet's typical
 * latency (what such an estimate ages toward). One per balancer, shared by its pickers and tracers.
 *
 * <p>Thread-safe and lock-free: RPC completions record samples from transport threads while pickers
 * read; reads allocate nothing.
 */
final class FleetLatency {
  /*
   * An endpoint's estimate is refreshed only by its own RPCs, and P2C stops sending RPCs to an
   * endpoint whose estimate is high, so a pod that was slow once (a cold JVM's first RPC, one GC
   * pause) would keep that estimate until time alone wears it down: with a 10 s decay, ~40 s for
   * 25 ms against 0.4 ms peers, while its peers serve tens of thousands of RPCs. So an estimate
   * also ages with the fleet's progress: it loses 1/e of its distance to the fleet's typical
   * latency every ROUNDS rounds of samples (a round is one sample per endpoint), and is probed
   * again once it reaches its peers. It ages toward half the typical latency: toward the typical
   * latency itself it would approach its peers from above and never undercut them in a fleet of
   * steady latencies; toward zero (as Finagle and tower decay) it would draw a burst once it got
   * there. At half the typical latency the in-flight factor of the cost still applies, so one or
   * two RPCs probe it before it costs as much as its peers again. The same pull makes the peer
   * that was sampled least recently slightly cheaper, which evens out the shares of equal pods.
   *
   * The typical latency is the geometric mean of recent successful samples (failures are
   * penalties, not latencies), weighted by traffic: P2C sends little to a slow pod, so its samples
   * barely move it, and a geometric mean is not dragged up by one 1,000x outlier as an arithmetic
   * one is. The first samples count fully (weight 1/count) until the weight reaches 1/MEMORY.
   */
  static final double ROUNDS = 16;
  private static final double MEMORY = 64;
  private static final double AGING_TARGET = 0.5;

  private final AtomicLong samples = new AtomicLong();
  private final AtomicReference<Typical> typical;
  private volatile double agePerSample = 1 / ROUNDS;

  /** Before the first successful sample the typical latency is {@code initialNanos}. */
  FleetLatency(double initialNanos) {
    this.typical = new AtomicReference<>(new Typical(initialNanos, Math.log(initialNanos), 0));
  }

  /** Called when the rotation changes: a round is one sample per endpoint in rotation. */
  void endpoints(int count) {
    agePerSample = 1 / (ROUNDS * Math.max(1, count));
  }

  /**
   * Counts one sample of an endpoint and, when {@code success}, folds its latency into the typical
   * latency. Returns the fleet's sample count including this one.
   */
  long record(double rttNanos, boolean success) {
    long count = samples.incrementAndGet();
    if (success) {
      double log = Math.log(Math.max(rttNanos, 1));
      while (true) {
        Typical prev = typical();
        long n = prev.samples() + 1;
        double weight = Math.max(1.0 / n, 1 / MEMORY);
        double next = prev.log() + (log - prev.log()) * weight;
        if (typical.compareAndSet(prev, new Typical(Math.exp(next), next, n))) {
          break;
        }
      }
    }
    return count;
  }

  /** Samples taken by all endpoints so far. */
  long samples() {
    return samples.get();
  }

  /** The typical latency in nanoseconds. */
  double typicalNanos() {
    return typical().nanos();
  }

  /** What an estimate nobody refreshes ages toward: half the typical latency, in nanoseconds. */
  double agingTargetNanos() {
    return typical().nanos() * AGING_TARGET;
  }

  /** How much one fleet sample ages an estimate (in units of e-foldings). */
  double agePerSample() {
    return agePerSample;
  }

  // Never null: set in the constructor and only ever replaced by compareAndSet with a new value.
  private Typical typical() {
    return Objects.requireNonNull(typical.get(), "typical");
  }

  private record Typical(double nanos, double log, long samples) {}
}
