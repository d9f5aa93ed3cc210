package io.github.kubegrpclb.core;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * RPC outcomes of one endpoint for outlier ejection: the current streak of consecutive failures,
 * and successes and failures since the last interval. When the streak reaches a multiple of the
 * threshold it calls the armed trigger (which hands the decision to the SynchronizationContext).
 *
 * <p>Thread-safe: RPCs complete on transport threads; counters are atomics and the trigger is
 * volatile.
 */
final class OutcomeCounts {
  private final AtomicInteger streak = new AtomicInteger();
  private final AtomicLong successes = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private volatile int threshold = Integer.MAX_VALUE;
  private volatile Runnable trigger = () -> {};

  /** Calls {@code onStreak} whenever the failure streak reaches a multiple of {@code threshold}. */
  void arm(int threshold, Runnable onStreak) {
    this.threshold = threshold;
    this.trigger = onStreak;
  }

  void record(boolean failure) {
    if (failure) {
      failures.incrementAndGet();
      if (streak.incrementAndGet() % threshold == 0) {
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
