package io.github.kubegrpclb.sharding;

import static io.grpc.ConnectivityState.IDLE;
import static io.grpc.ConnectivityState.READY;

import io.github.kubegrpclb.core.internal.ShardTelemetry;
import io.grpc.ConnectivityState;
import io.grpc.SynchronizationContext;
import io.grpc.SynchronizationContext.ScheduledHandle;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;
import javax.annotation.Nullable;

/**
 * The life of each shard of a {@link ShardPool}, from dial to retirement: a slot shard that goes
 * IDLE (GOAWAY, a lost connection, an idle timeout) is asked to reconnect at once; a shard past its
 * age, or one the re-dial decision names, is replaced make before break; a replaced shard retires
 * once the calls created on it have closed, or at a deadline.
 *
 * <p>Not thread-safe: every method runs in the pool's synchronization context, its timers through
 * the injected scheduler.
 */
final class ShardLifecycle {
  /** What the lifecycle reads of, and tells, the pool that owns it; called in its context. */
  interface Pool {
    boolean isShutdown();

    /** Whether the pool is idle: its shards stay disconnected until the next call. */
    boolean isIdle();

    /** A slot shard's state may have changed: aggregate the pool's state again. */
    void updateState();
  }

  private final ShardSlots slots;
  private final ShardDialer dialer;
  private final ShardObserver observer;
  private final Pool pool;
  private final long maxAgeNanos;
  private final double jitter;
  private final long readyTimeoutNanos;
  private final long retireDeadlineNanos;
  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService scheduler;
  private final LongSupplier ticker;
  private final DoubleSupplier random;
  private final ScheduledHandle[] aging;
  private final Replacement[] replacements;
  private final Map<Shard, ScheduledHandle> retiring = new HashMap<>();

  /**
   * Keeps the shards in {@code slots} dialed by {@code dialer}: each is replaced after {@code
   * maxAge} (zero: never) times a factor drawn uniformly from 1 +- {@code jitter}; a replacement
   * not READY within {@code readyTimeout} is given up; a retired shard shuts down at {@code
   * retireDeadline} even if a call created on it never started.
   */
  ShardLifecycle(
      ShardSlots slots,
      ShardDialer dialer,
      ShardObserver observer,
      Pool pool,
      Duration maxAge,
      double jitter,
      Duration readyTimeout,
      Duration retireDeadline,
      SynchronizationContext syncContext,
      ScheduledExecutorService scheduler,
      LongSupplier ticker,
      DoubleSupplier random) {
    this.slots = slots;
    this.dialer = dialer;
    this.observer = observer;
    this.pool = pool;
    this.maxAgeNanos = maxAge.toNanos();
    this.jitter = jitter;
    this.readyTimeoutNanos = readyTimeout.toNanos();
    this.retireDeadlineNanos = retireDeadline.toNanos();
    this.syncContext = syncContext;
    this.scheduler = scheduler;
    this.ticker = ticker;
    this.random = random;
    this.aging = new ScheduledHandle[slots.size()];
    this.replacements = new Replacement[slots.size()];
  }

  /** Dials a shard into every slot and starts keeping them up. */
  void dialAll() {
    for (int slot = 0; slot < slots.size(); slot++) {
      slots.set(dialer.dial(slot));
    }
    for (int slot = 0; slot < slots.size(); slot++) {
      watchSlot(slots.get(slot));
      scheduleAging(slot);
    }
  }

  /** Every timer armed; the replacements under way are dropped with theirs. */
  void cancelTimers() {
    for (int slot = 0; slot < slots.size(); slot++) {
      cancel(aging[slot]);
      aging[slot] = null;
      if (replacements[slot] != null) {
        cancel(replacements[slot].timeout);
        replacements[slot] = null;
      }
    }
    retiring.values().forEach(ShardLifecycle::cancel);
    retiring.clear();
  }

  /** Whether a replacement for {@code slot} is under way. */
  boolean replacing(int slot) {
    return replacements[slot] != null;
  }

  /** Gives up every replacement under way, keeping the old shards (the pool goes idle). */
  void giveUpReplacements() {
    for (Replacement replacement : replacements) {
      if (replacement != null) {
        replacement.giveUp();
      }
    }
  }

  /** Resets the connect backoff of the slot shards and of the replacements under way. */
  void resetConnectBackoff() {
    for (Shard shard : slots.shards()) {
      shard.channel.resetConnectBackoff();
    }
    for (Replacement replacement : replacements) {
      if (replacement != null) {
        replacement.fresh.channel.resetConnectBackoff();
      }
    }
  }

  /* One watch per slot shard, re-armed from its own callback until the shard leaves its slot. */
  private void watchSlot(Shard shard) {
    if (pool.isShutdown() || slots.get(shard.slot) != shard) {
      return;
    }
    ConnectivityState shardState = shard.channel.getState(false);
    if (shardState != READY) {
      shard.readySinceNanos = Shard.NOT_READY;
    } else if (shard.readySinceNanos == Shard.NOT_READY) {
      shard.readySinceNanos = ticker.getAsLong();
    }
    if (shardState == IDLE && !pool.isIdle()) {
      shard.channel.getState(true); // GOAWAY, lost connection or idle timeout: reconnect now
    }
    shard.channel.notifyWhenStateChanged(
        shardState, () -> syncContext.execute(() -> onSlotStateChanged(shard, shardState)));
    pool.updateState();
  }

  /* The shard's state is no longer `left`, though it may be back there by now: a shard that left
   * READY lost its connection, which watchSlot replaces. */
  private void onSlotStateChanged(Shard shard, ConnectivityState left) {
    if (left == READY) {
      shard.readySinceNanos = Shard.NOT_READY; // a new connection from here, even if READY again
      if (!pool.isShutdown() && !pool.isIdle() && slots.get(shard.slot) == shard) {
        observer.recycled(ShardTelemetry.CONNECTION_CLOSED);
      }
    }
    watchSlot(shard);
  }

  private void scheduleAging(int slot) {
    cancel(aging[slot]);
    aging[slot] = null;
    if (maxAgeNanos == 0 || pool.isShutdown()) {
      return;
    }
    double factor = 1 + jitter * (2 * random.getAsDouble() - 1);
    aging[slot] =
        syncContext.schedule(
            () -> onAged(slot), (long) (maxAgeNanos * factor), TimeUnit.NANOSECONDS, scheduler);
  }

  private void onAged(int slot) {
    aging[slot] = null;
    if (pool.isIdle() || replacements[slot] != null) {
      scheduleAging(slot); // nothing to rebalance while idle; a re-dial is under way
      return;
    }
    replace(slot, ShardTelemetry.MAX_AGE);
  }

  /** Replaces the shard in {@code slot}, make before break, unless a replacement is under way. */
  void replace(int slot, String reason) {
    if (pool.isShutdown() || replacements[slot] != null) {
      return;
    }
    Replacement replacement = new Replacement(slots.get(slot), dialer.dial(slot), reason);
    replacements[slot] = replacement;
    replacement.start();
  }

  private void retire(Shard old) {
    prune();
    old.retire();
    if (!old.closed()) {
      retiring.put(
          old,
          syncContext.schedule(
              () -> {
                retiring.remove(old);
                old.closeNow();
              },
              retireDeadlineNanos,
              TimeUnit.NANOSECONDS,
              scheduler));
    }
  }

  /* Forgets retired shards that have closed and channels that have terminated. */
  private void prune() {
    for (var it = retiring.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Shard, ScheduledHandle> entry = it.next();
      if (entry.getKey().closed()) {
        cancel(entry.getValue());
        it.remove();
      }
    }
    dialer.prune();
  }

  private static void cancel(@Nullable ScheduledHandle handle) {
    if (handle != null) {
      handle.cancel();
    }
  }

  /** One make-before-break swap of a slot; settles once: swapped, or given up. */
  private final class Replacement {
    final Shard old;
    final Shard fresh;
    final String reason;
    @Nullable ScheduledHandle timeout; // set by start(), right after construction

    Replacement(Shard old, Shard fresh, String reason) {
      this.old = old;
      this.fresh = fresh;
      this.reason = reason;
    }

    void start() {
      timeout =
          syncContext.schedule(this::giveUp, readyTimeoutNanos, TimeUnit.NANOSECONDS, scheduler);
      watch();
    }

    private boolean settled() {
      return replacements[fresh.slot] != this;
    }

    private void watch() {
      if (settled()) {
        return;
      }
      ConnectivityState freshState = fresh.channel.getState(false);
      if (freshState == READY) {
        swap();
        return;
      }
      if (freshState == IDLE) {
        fresh.channel.getState(true);
      }
      fresh.channel.notifyWhenStateChanged(freshState, () -> syncContext.execute(this::watch));
    }

    private void swap() {
      int slot = fresh.slot;
      replacements[slot] = null;
      cancel(timeout);
      slots.set(fresh); // new calls go to the fresh shard from here on
      observer.recycled(reason);
      retire(old);
      scheduleAging(slot);
      watchSlot(fresh);
    }

    /* Not READY in time (the Service may have no endpoint now), or the pool went idle: keep the
     * old shard. */
    void giveUp() {
      if (settled()) {
        return;
      }
      int slot = fresh.slot;
      replacements[slot] = null;
      cancel(timeout);
      if (!pool.isIdle()) {
        observer.replacementAbandoned(reason);
      }
      fresh.channel.shutdownNow(); // never in a slot: no call ever reached it
      if (aging[slot] == null) {
        scheduleAging(slot); // an aged shard tries again after another period
      }
    }
  }
}
