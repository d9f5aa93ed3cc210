package io.github.kubegrpclb.core;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * RPC outcomes of one endpoint for outlier ejection: the current streak of consecutive failures,
 * successes and failures since the last interval, and when the endpoint last answered anything.
 * When the streak reaches a multiple of the threshold, or an RPC timed out although the endpoint
 * answered nothing at all since that RPC started (unresponsive, not slow: a partition or a hung
 * process), it calls the armed trigger (which hands the decision to the SynchronizationContext).
 *
 * <p>Thread-safe: RPCs complete on transport threads; counters are atomics and the trigger is
 * volatile.
 */
final class OutcomeCounts {
  private final AtomicInteger streak = new AtomicInteger();
  private final AtomicLong successes = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private final AtomicLong lastAnswerNanos = new AtomicLong(Long.MIN_VALUE);
  private volatile int threshold = Integer.MAX_VALUE;
  private volatile Runnable trigger = () -> {};

  /** Calls {@code onStreak} whenever the failure streak reaches a multiple of {@code threshold}. */
  void arm(int threshold, Runnable onStreak) {
    this.threshold = threshold;
    this.trigger = onStreak;
  }

  /**
   * Records one finished RPC.
   *
   * @param failure whether its code is one of the failure codes
   * @param timedOut whether it ended without an answer (DEADLINE_EXCEEDED)
   * @param startNanos when it started
   * @param nowNanos when it ended
   */
  void record(boolean failure, boolean timedOut, long startNanos, long nowNanos) {
    if (!timedOut) {
      long prev;
      do {
        prev = lastAnswerNanos.get();
      } while (nowNanos > prev && !lastAnswerNanos.compareAndSet(prev, nowNanos));
    }
    if (failure) {
      failures.incrementAndGet();
      boolean unresponsive = timedOut && lastAnswerNanos.get() < startNanos;
      if (streak.incrementAndGet() % threshold == 0 || unresponsive) {
        trigger.run();
      }
    } else {
      successes.incrementAndGet();
      streak.set(0);
    }
  }

  int streak() {
    return streak.get();
  }

  /** Starts a new streak, as after re-admission. */
  void resetStreak() {
    streak.set(0);
  }

  /** Returns {@code {successes, failures}} since the last call and starts counting afresh. */
  long[] drainInterval() {
    return new long[] {successes.getAndSet(0), failures.getAndSet(0)};
  }
}
