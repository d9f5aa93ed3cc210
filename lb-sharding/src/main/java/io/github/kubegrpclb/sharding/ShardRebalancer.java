package io.github.kubegrpclb.sharding;

import io.github.kubegrpclb.core.internal.ShardTelemetry;
import io.grpc.SynchronizationContext;
import io.grpc.SynchronizationContext.ScheduledHandle;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.annotation.Nullable;

/**
 * The re-dial decision of a {@link ShardPool}: each time a shard names its pod, re-dials one shard
 * of a pod over its fair share ({@link PodShares} picks it) if the {@link RedialBudget} allows; a
 * refused re-dial is tried again when the budget refills, so the pool cannot stay uneven for want
 * of a new report.
 *
 * <p>Not thread-safe: {@link #rebalance} and {@link #cancel} run in the pool's synchronization
 * context, the retry through the injected scheduler; {@link #redials} may be read from any thread.
 */
final class ShardRebalancer {
  private final ShardSlots slots;
  private final ShardLifecycle lifecycle;
  private final PodShares shares;
  private final RedialBudget budget;
  private final ShardObserver observer;
  private final ShardLifecycle.Pool pool;
  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService scheduler;
  @Nullable private ScheduledHandle retry; // a refused re-dial, tried again at the refill
  private volatile long redials; // a copy of budget.taken() for other threads

  ShardRebalancer(
      ShardSlots slots,
      ShardLifecycle lifecycle,
      PodShares shares,
      RedialBudget budget,
      ShardObserver observer,
      ShardLifecycle.Pool pool,
      SynchronizationContext syncContext,
      ScheduledExecutorService scheduler) {
    this.slots = slots;
    this.lifecycle = lifecycle;
    this.shares = shares;
    this.budget = budget;
    this.observer = observer;
    this.pool = pool;
    this.syncContext = syncContext;
    this.scheduler = scheduler;
  }

  /**
   * Re-dials one shard of a pod holding more than its fair share of the slots, if any: {@code
   * reporting} (the shard that just named its pod, or null) when it is such a shard. Every shard's
   * pod counts, not only the reporting one's: reports arrive one at a time, so a pod can look fair
   * when its shards report and be over once the others have.
   */
  void rebalance(@Nullable Shard reporting) {
    if (pool.isShutdown() || pool.isIdle()) {
      return;
    }
    Shard victim = shares.overShare(slots.shards(), lifecycle::replacing, reporting);
    if (victim == null) {
      return;
    }
    if (budget.tryTake()) {
      redials = budget.taken();
      shares.redialed();
      observer.redial(false);
      lifecycle.replace(victim.slot, ShardTelemetry.DUPLICATE_POD);
    } else {
      observer.redial(true);
      if (retry == null) {
        retry =
            syncContext.schedule(
                () -> {
                  retry = null;
                  rebalance(null);
                },
                budget.nanosUntilRefill(),
                TimeUnit.NANOSECONDS,
                scheduler);
      }
    }
  }

  /** Cancels the retry of a refused re-dial, if one is armed. */
  void cancel() {
    if (retry != null) {
      retry.cancel();
    }
    retry = null;
  }

  /** Re-dials of duplicate shards so far; any thread. */
  long redials() {
    return redials;
  }
}
