package io.github.kubegrpclb.sharding;

import java.util.function.LongSupplier;

/**
 * How many duplicate shards a {@link ShardRebalancer} may still re-dial: a fixed number per period
 * ({@link ShardPool#REDIALS_PER_SHARD} per shard), the period starting afresh at the first request
 * after the last one ended. Aging does not refill it: with fewer pods than shards every re-dial
 * lands on a duplicate, and this is what bounds the churn.
 *
 * <p>Not thread-safe: confine to the pool's synchronization context.
 */
final class RedialBudget {
  private final int perPeriod;
  private final long periodNanos;
  private final LongSupplier ticker;
  private long periodStart;
  private int left;
  private long taken;

  RedialBudget(int perPeriod, long periodNanos, LongSupplier ticker) {
    this.perPeriod = perPeriod;
    this.periodNanos = periodNanos;
    this.ticker = ticker;
    this.periodStart = ticker.getAsLong();
    this.left = perPeriod;
  }

  /** Takes one re-dial if the period has one left. */
  boolean tryTake() {
    long now = ticker.getAsLong();
    if (now - periodStart >= periodNanos) {
      periodStart = now;
      left = perPeriod;
    }
    if (left == 0) {
      return false;
    }
    left--;
    taken++;
    return true;
  }

  /** Nanoseconds until the period ends and the budget is full again (at least 1). */
  long nanosUntilRefill() {
    return Math.max(1, periodStart + periodNanos - ticker.getAsLong());
  }

  /** Re-dials taken so far. */
  long taken() {
    return taken;
  }
}
