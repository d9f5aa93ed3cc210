package io.github.kubegrpclb.sharding;

import io.github.kubegrpclb.sharding.ShardedChannel.Shard;
import io.grpc.ConnectivityState;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Replaces shards of a {@link ShardedChannel}, make before break: a replacement connects, takes the
 * old shard's slot once READY (new calls go to it), and only then is the old connection shut down,
 * gracefully, so its calls finish. Triggered by a shard's age, or at once when it duplicates
 * another shard's pod (bounded per period so a pool larger than the pod count does not churn).
 *
 * <p>Thread-safe: slots change only by compare-and-set; timers run on the channel's scheduler.
 */
final class ShardRecycler {
  private static final long READY_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);
  private static final long RETIRE_GRACE_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

  private final ShardedChannel owner;
  /* Re-dials for duplicate pods left in this period: one per connection, refilled by aging. */
  private final AtomicInteger redialBudget;

  ShardRecycler(ShardedChannel owner) {
    this.owner = owner;
    this.redialBudget = new AtomicInteger(owner.connections());
  }

  void scheduleAging(int slot, Shard shard) {
    if (!owner.agingEnabled()) {
      return;
    }
    schedule(() -> replace(slot, shard, true), owner.agingDelayNanos());
  }

  /** A shard learned its pod: re-dial it if another live shard already covers that pod. */
  void onIdentityLearned(Shard shard) {
    if (!owner.distinctPods() || shard.identity == null) {
      return;
    }
    AtomicReferenceArray<Shard> shards = owner.shards();
    int slot = -1;
    boolean duplicate = false;
    for (int i = 0; i < shards.length(); i++) {
      Shard other = shards.get(i);
      if (other == shard) {
        slot = i;
      } else if (shard.identity.equals(other.identity)) {
        duplicate = true;
      }
    }
    if (slot >= 0 && duplicate && redialBudget.getAndUpdate(b -> Math.max(0, b - 1)) > 0) {
      int target = slot;
      schedule(() -> replace(target, shard, false), 0);
    }
  }

  private void replace(int slot, Shard old, boolean aging) {
    if (owner.closing() || owner.shards().get(slot) != old) {
      return;
    }
    if (aging) {
      redialBudget.set(owner.connections());
    }
    new Replacement(slot, old, owner.newShard(), aging).start();
  }

  /** One make-before-break swap; settles once: swapped, or given up after a timeout. */
  private final class Replacement {
    final int slot;
    final Shard old;
    final Shard fresh;
    final boolean aging;
    final AtomicBoolean settled = new AtomicBoolean();

    Replacement(int slot, Shard old, Shard fresh, boolean aging) {
      this.slot = slot;
      this.old = old;
      this.fresh = fresh;
      this.aging = aging;
    }

    void start() {
      schedule(this::giveUp, READY_TIMEOUT_NANOS);
      watch();
    }

    private void watch() {
      if (settled.get()) {
        return;
      }
      if (owner.closing()) {
        giveUp();
        return;
      }
      ConnectivityState state = fresh.channel.getState(true);
      if (state == ConnectivityState.READY) {
        swap();
      } else {
        fresh.channel.notifyWhenStateChanged(state, () -> execute(this::watch));
      }
    }

    private void swap() {
      if (!settled.compareAndSet(false, true)) {
        return;
      }
      if (owner.shards().compareAndSet(slot, old, fresh)) {
        // A call that picked the old shard just before the swap may not have started yet: give
        // it a moment before shutdown() makes the old channel refuse new calls.
        schedule(() -> owner.retire(old.channel), RETIRE_GRACE_NANOS);
        scheduleAging(slot, fresh);
      } else {
        owner.discard(fresh.channel);
      }
    }

    /* The replacement never got READY (the Service may have no endpoint now): keep the old
     * shard and try again after another period. */
    private void giveUp() {
      if (!settled.compareAndSet(false, true)) {
        return;
      }
      owner.discard(fresh.channel);
      if (aging) {
        scheduleAging(slot, old);
      }
    }
  }

  private void execute(Runnable task) {
    schedule(task, 0);
  }

  private void schedule(Runnable task, long delayNanos) {
    if (owner.closing()) {
      return;
    }
    try {
      owner.scheduler().schedule(task, delayNanos, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // shut down meanwhile
    }
  }
}
