package io.github.kubegrpclb.sharding;

import static io.grpc.ConnectivityState.CONNECTING;
import static io.grpc.ConnectivityState.IDLE;
import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.SHUTDOWN;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;

import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.core.internal.ShardTelemetry;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.SynchronizationContext;
import io.grpc.SynchronizationContext.ScheduledHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.annotation.Nullable;

/**
 * The shards behind a {@link ShardedChannel} and the state machine that keeps them connected and
 * spread over pods: a shard that goes IDLE (GOAWAY, a lost connection, an idle timeout) is asked to
 * reconnect at once; a shard past its age, or one that duplicates another shard's pod, is replaced
 * make before break; a replaced shard retires once the calls created on it have closed.
 *
 * <p>Thread-safe: every state change runs in one {@link SynchronizationContext}, timers through the
 * injected scheduler; {@link #newCall} and state reads are lock-free.
 */
final class ShardPool {
  /** How long a replacement may take to become READY before the old shard is kept. */
  static final Duration READY_TIMEOUT = Duration.ofSeconds(10);

  /** A retired shard shuts down after this even if a call created on it never started. */
  static final Duration RETIRE_DEADLINE = Duration.ofMinutes(1);

  /** Re-dials per shard per period: exploring for unseen pods, then evening out the spread. */
  static final int REDIALS_PER_SHARD = 3;

  /** Re-dial period when recycling is off. */
  static final Duration DEFAULT_REDIAL_PERIOD = Duration.ofMinutes(5);

  private static final Logger logger = Logger.getLogger(ShardPool.class.getName());

  private final Supplier<ManagedChannel> dialer;
  @Nullable private final String podIdentityHeader;
  private final long maxAgeNanos;
  private final double jitter;
  private final ScheduledExecutorService scheduler;
  private final DoubleSupplier random;
  private final Executor callbackExecutor;
  private final LongSupplier ticker;
  private final SynchronizationContext syncContext =
      new SynchronizationContext(
          (thread, e) -> logger.log(Level.WARNING, "uncaught exception in a ShardedChannel", e));
  private final AtomicReferenceArray<Shard> slots;
  private final AtomicInteger next = new AtomicInteger();
  /* Every channel dialed and not yet seen terminated: shut down with the pool. */
  private final Set<ManagedChannel> channels = ConcurrentHashMap.newKeySet();
  private final ChannelStateNotifier state = new ChannelStateNotifier(CONNECTING);
  private volatile boolean shutdown;
  private volatile boolean idle;

  // Confined to syncContext.
  private final ScheduledHandle[] aging;
  private final Replacement[] replacements;
  private final Map<Shard, ScheduledHandle> retiring = new HashMap<>();
  private final RedialBudget redialBudget;
  private final PodShares podShares;
  @Nullable private ScheduledHandle rebalanceRetry; // a refused re-dial, tried again at the refill
  private volatile long redials; // a copy of redialBudget.taken() for other threads
  private final ShardObserver observer;

  private ShardPool(
      String target,
      LbTelemetry telemetry,
      int size,
      Supplier<ManagedChannel> dialer,
      @Nullable String podIdentityHeader,
      Duration maxAge,
      double jitter,
      ScheduledExecutorService scheduler,
      LongSupplier ticker,
      DoubleSupplier random,
      Executor callbackExecutor) {
    this.dialer = dialer;
    this.podIdentityHeader = podIdentityHeader;
    this.maxAgeNanos = maxAge.toNanos();
    this.jitter = jitter;
    this.scheduler = scheduler;
    this.random = random;
    this.callbackExecutor = callbackExecutor;
    this.ticker = ticker;
    this.slots = new AtomicReferenceArray<>(size);
    this.aging = new ScheduledHandle[size];
    this.replacements = new Replacement[size];
    this.podShares = new PodShares(size);
    this.redialBudget =
        new RedialBudget(
            REDIALS_PER_SHARD * size,
            maxAge.isZero() ? DEFAULT_REDIAL_PERIOD.toNanos() : maxAgeNanos,
            ticker);
    this.observer =
        new ShardObserver(
            target, telemetry, podIdentityHeader != null, ticker, this::shards, state::state);
  }

  /**
   * Dials {@code size} shards with {@code dialer} and starts keeping them up. Each shard is
   * replaced after {@code maxAge} (zero: never) times a factor drawn uniformly from 1 +- {@code
   * jitter}. Records its metrics to {@code telemetry} and registers its snapshot for {@code
   * LbDebug} under {@code target}.
   */
  static ShardPool start(
      String target,
      LbTelemetry telemetry,
      int size,
      Supplier<ManagedChannel> dialer,
      @Nullable String podIdentityHeader,
      Duration maxAge,
      double jitter,
      ScheduledExecutorService scheduler,
      LongSupplier ticker,
      DoubleSupplier random,
      Executor callbackExecutor) {
    ShardPool pool =
        new ShardPool(
            target,
            telemetry,
            size,
            dialer,
            podIdentityHeader,
            maxAge,
            jitter,
            scheduler,
            ticker,
            random,
            callbackExecutor);
    RuntimeException[] failure = new RuntimeException[1];
    // Runs here and now: nobody else has the pool yet.
    pool.syncContext.execute(
        () -> {
          try {
            pool.dialAll();
          } catch (RuntimeException e) {
            failure[0] = e;
          }
        });
    if (failure[0] != null) {
      pool.abandon();
      throw failure[0] instanceof IllegalArgumentException iae
          ? iae
          : new IllegalArgumentException(
              "ShardedChannel for " + target + ": dialing a shard failed: " + failure[0],
              failure[0]);
    }
    return pool;
  }

  /* A failed start leaves nothing behind: every channel dialed so far, the timers, the snapshot
   * registration and the metric callbacks go. */
  private void abandon() {
    shutdown = true;
    syncContext.execute(
        () -> {
          cancelTimers();
          observer.shutdown();
          channels.forEach(ManagedChannel::shutdownNow);
        });
  }

  /* Every timer the pool has armed; the replacements under way are dropped with theirs. */
  private void cancelTimers() {
    cancel(rebalanceRetry);
    rebalanceRetry = null;
    for (int slot = 0; slot < slots.length(); slot++) {
      cancel(aging[slot]);
      aging[slot] = null;
      if (replacements[slot] != null) {
        cancel(replacements[slot].timeout);
        replacements[slot] = null;
      }
    }
    retiring.values().forEach(ShardPool::cancel);
    retiring.clear();
  }

  private void dialAll() {
    for (int slot = 0; slot < slots.length(); slot++) {
      slots.set(slot, dial(slot));
    }
    for (int slot = 0; slot < slots.length(); slot++) {
      watchSlot(slots.get(slot));
      scheduleAging(slot);
    }
  }

  int size() {
    return slots.length();
  }

  /** The shards now in the slots, in slot order. */
  List<Shard> shards() {
    List<Shard> shards = new ArrayList<>(slots.length());
    for (int slot = 0; slot < slots.length(); slot++) {
      shards.add(slots.get(slot));
    }
    return shards;
  }

  String authority() {
    return slots.get(0).channel.authority();
  }

  /**
   * A call on the next READY shard in turn (atomic round robin); when none is READY, on the next
   * shard not in TRANSIENT_FAILURE, whose channel holds the call until it connects.
   */
  <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions options) {
    int n = slots.length();
    int start = Math.floorMod(next.getAndIncrement(), n);
    if (shutdown) {
      return slots.get(start).channel.newCall(method, options); // fails: shut down
    }
    if (idle) {
      syncContext.execute(this::exitIdle);
    }
    for (int pass = 0; pass < 3; pass++) {
      for (int k = 0; k < n; k++) {
        Shard shard = slots.get((start + k) % n);
        ConnectivityState shardState = shard.channel.getState(false);
        boolean eligible =
            pass == 0 ? shardState == READY : pass == 2 || shardState != TRANSIENT_FAILURE;
        if (eligible) {
          // null: retired and closed since we read the slot; its replacement is there now.
          ClientCall<ReqT, RespT> call = shard.newCall(method, options);
          if (call != null) {
            return call;
          }
        }
      }
    }
    return slots.get(start).channel.newCall(method, options);
  }

  ConnectivityState getState(boolean requestConnection) {
    ConnectivityState current = state.state();
    if (requestConnection) {
      syncContext.execute(this::requestConnection);
    }
    return current;
  }

  void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
    syncContext.execute(() -> state.notifyWhenStateChanged(source, callback, callbackExecutor));
  }

  void resetConnectBackoff() {
    syncContext.execute(
        () -> {
          for (Shard shard : shards()) {
            shard.channel.resetConnectBackoff();
          }
          for (Replacement replacement : replacements) {
            if (replacement != null) {
              replacement.fresh.channel.resetConnectBackoff();
            }
          }
        });
  }

  /** Every shard enters idle (closing its connection once its calls finish) until the next call. */
  void enterIdle() {
    syncContext.execute(
        () -> {
          if (shutdown) {
            return;
          }
          idle = true;
          for (Replacement replacement : replacements) {
            if (replacement != null) {
              replacement.giveUp();
            }
          }
          for (Shard shard : shards()) {
            shard.channel.enterIdle();
          }
          updateState();
        });
  }

  void shutdown(boolean now) {
    shutdown = true;
    syncContext.execute(
        () -> {
          cancelTimers();
          observer.shutdown();
          for (ManagedChannel channel : channels) {
            if (now) {
              channel.shutdownNow();
            } else {
              channel.shutdown();
            }
          }
          state.gotoState(SHUTDOWN);
        });
  }

  boolean isShutdown() {
    return shutdown;
  }

  boolean isTerminated() {
    return shutdown && channels.stream().allMatch(ManagedChannel::isTerminated);
  }

  boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    for (ManagedChannel channel : channels) {
      long left = deadline - System.nanoTime();
      if (left <= 0 || !channel.awaitTermination(left, TimeUnit.NANOSECONDS)) {
        return false;
      }
    }
    return isTerminated();
  }

  /** Re-dials of duplicate shards so far (for tests and diagnostics). */
  long redials() {
    return redials;
  }

  // ---- the state machine; everything below runs in syncContext ----

  private Shard dial(int slot) {
    ManagedChannel channel = dialer.get();
    channels.add(channel);
    channel.getState(true); // connect now, not on the first call
    return new Shard(slot, channel, ticker.getAsLong(), podIdentityHeader, this::onIdentity);
  }

  /* One watch per slot shard, re-armed from its own callback until the shard leaves its slot. */
  private void watchSlot(Shard shard) {
    if (shutdown || slots.get(shard.slot) != shard) {
      return;
    }
    ConnectivityState shardState = shard.channel.getState(false);
    if (shardState != READY) {
      shard.readySinceNanos = Shard.NOT_READY;
    } else if (shard.readySinceNanos == Shard.NOT_READY) {
      shard.readySinceNanos = ticker.getAsLong();
    }
    if (shardState == IDLE && !idle) {
      shard.channel.getState(true); // GOAWAY, lost connection or idle timeout: reconnect now
    }
    shard.channel.notifyWhenStateChanged(
        shardState, () -> syncContext.execute(() -> onSlotStateChanged(shard, shardState)));
    updateState();
  }

  /* The shard's state is no longer `left`, though it may be back there by now: a shard that left
   * READY lost its connection, which watchSlot replaces. */
  private void onSlotStateChanged(Shard shard, ConnectivityState left) {
    if (left == READY) {
      shard.readySinceNanos = Shard.NOT_READY; // a new connection from here, even if READY again
      if (!shutdown && !idle && slots.get(shard.slot) == shard) {
        observer.recycled(ShardTelemetry.CONNECTION_CLOSED);
      }
    }
    watchSlot(shard);
  }

  /* Aggregated as round_robin does: READY if any shard is; TRANSIENT_FAILURE once all are, and
   * sticky until one is READY; CONNECTING otherwise (IDLE shards are reconnecting). */
  private void updateState() {
    if (shutdown) {
      state.gotoState(SHUTDOWN);
      return;
    }
    if (idle) {
      state.gotoState(IDLE);
      return;
    }
    boolean ready = false;
    boolean connecting = false;
    for (Shard shard : shards()) {
      ConnectivityState shardState = shard.channel.getState(false);
      ready |= shardState == READY;
      connecting |= shardState == CONNECTING || shardState == IDLE;
    }
    if (ready) {
      state.gotoState(READY);
    } else if (state.state() != TRANSIENT_FAILURE && connecting) {
      state.gotoState(CONNECTING);
    } else {
      state.gotoState(TRANSIENT_FAILURE);
    }
  }

  private void requestConnection() {
    if (idle) {
      exitIdle();
      return;
    }
    for (Shard shard : shards()) {
      shard.channel.getState(true);
    }
  }

  private void exitIdle() {
    if (!idle || shutdown) {
      return;
    }
    idle = false;
    for (Shard shard : shards()) {
      shard.channel.getState(true);
    }
    updateState();
  }

  private void scheduleAging(int slot) {
    cancel(aging[slot]);
    aging[slot] = null;
    if (maxAgeNanos == 0 || shutdown) {
      return;
    }
    double factor = 1 + jitter * (2 * random.getAsDouble() - 1);
    aging[slot] =
        syncContext.schedule(
            () -> onAged(slot), (long) (maxAgeNanos * factor), TimeUnit.NANOSECONDS, scheduler);
  }

  private void onAged(int slot) {
    aging[slot] = null;
    if (idle || replacements[slot] != null) {
      scheduleAging(slot); // nothing to rebalance while idle; a re-dial is under way
      return;
    }
    replace(slot, ShardTelemetry.MAX_AGE);
  }

  private void onIdentity(Shard shard, String pod) {
    syncContext.execute(() -> rebalance(shard));
  }

  /*
   * Re-dials one shard of a pod holding more than its fair share of the slots, if any (PodShares
   * picks it). Every shard's pod counts, not only the reporting one's. A refused re-dial is tried
   * again when the budget refills, so the pool cannot stay uneven for want of a new report.
   */
  private void rebalance(@Nullable Shard reporting) {
    if (shutdown || idle) {
      return;
    }
    Shard victim = podShares.overShare(shards(), slot -> replacements[slot] != null, reporting);
    if (victim == null) {
      return;
    }
    if (redialBudget.tryTake()) {
      redials = redialBudget.taken();
      podShares.redialed();
      observer.redial(false);
      replace(victim.slot, ShardTelemetry.DUPLICATE_POD);
    } else {
      observer.redial(true);
      if (rebalanceRetry == null) {
        rebalanceRetry =
            syncContext.schedule(
                () -> {
                  rebalanceRetry = null;
                  rebalance(null);
                },
                redialBudget.nanosUntilRefill(),
                TimeUnit.NANOSECONDS,
                scheduler);
      }
    }
  }

  private void replace(int slot, String reason) {
    if (shutdown || replacements[slot] != null) {
      return;
    }
    Replacement replacement = new Replacement(slots.get(slot), dial(slot), reason);
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
              RETIRE_DEADLINE.toNanos(),
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
    channels.removeIf(ManagedChannel::isTerminated);
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
          syncContext.schedule(
              this::giveUp, READY_TIMEOUT.toNanos(), TimeUnit.NANOSECONDS, scheduler);
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
      slots.set(slot, fresh); // new calls go to the fresh shard from here on
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
      if (!idle) {
        observer.replacementAbandoned(reason);
      }
      fresh.channel.shutdownNow(); // never in a slot: no call ever reached it
      if (aging[slot] == null) {
        scheduleAging(slot); // an aged shard tries again after another period
      }
    }
  }
}
