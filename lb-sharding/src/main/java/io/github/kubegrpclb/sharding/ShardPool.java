package io.github.kubegrpclb.sharding;

import static io.grpc.ConnectivityState.CONNECTING;
import static io.grpc.ConnectivityState.IDLE;
import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.SHUTDOWN;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;

import io.github.kubegrpclb.core.LbTelemetry;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.SynchronizationContext;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.annotation.Nullable;

/**
 * The shards behind a {@link ShardedChannel}, seen as one channel: it routes calls over them
 * ({@link ShardSlots}), aggregates their states, goes idle and shuts down with them. It wires the
 * parts that keep the shards connected and spread over pods: {@link ShardLifecycle} (reconnect,
 * age, replace, retire), {@link ShardRebalancer} (re-dials of duplicate pods) and {@link
 * ShardObserver} (metrics, snapshot).
 *
 * <p>Thread-safe: every state change runs in one {@link SynchronizationContext}, timers through the
 * injected scheduler; {@link #newCall} and state reads are lock-free.
 */
final class ShardPool implements ShardLifecycle.Pool {
  /** How long a replacement may take to become READY before the old shard is kept. */
  static final Duration READY_TIMEOUT = Duration.ofSeconds(10);

  /** A retired shard shuts down after this even if a call created on it never started. */
  static final Duration RETIRE_DEADLINE = Duration.ofMinutes(1);

  /** Re-dials per shard per period: exploring for unseen pods, then evening out the spread. */
  static final int REDIALS_PER_SHARD = 3;

  /** Re-dial period when recycling is off. */
  static final Duration DEFAULT_REDIAL_PERIOD = Duration.ofMinutes(5);

  private static final Logger logger = Logger.getLogger(ShardPool.class.getName());

  private final Executor callbackExecutor;
  private final SynchronizationContext syncContext =
      new SynchronizationContext(
          (thread, e) -> logger.log(Level.WARNING, "uncaught exception in a ShardedChannel", e));
  private final ShardSlots slots;
  private final ShardDialer dialer;
  private final ChannelStateNotifier state = new ChannelStateNotifier(CONNECTING);
  private final ShardObserver observer;
  private final ShardLifecycle lifecycle; // confined to syncContext
  private final ShardRebalancer rebalancer; // confined to syncContext
  private volatile boolean shutdown;
  private volatile boolean idle;

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
    this.callbackExecutor = callbackExecutor;
    this.slots = new ShardSlots(size);
    this.dialer = new ShardDialer(dialer, podIdentityHeader, this::onIdentity, ticker);
    this.observer =
        new ShardObserver(
            target, telemetry, podIdentityHeader != null, ticker, slots::shards, state::state);
    this.lifecycle =
        new ShardLifecycle(
            slots,
            this.dialer,
            observer,
            this,
            maxAge,
            jitter,
            READY_TIMEOUT,
            RETIRE_DEADLINE,
            syncContext,
            scheduler,
            ticker,
            random);
    RedialBudget budget =
        new RedialBudget(
            REDIALS_PER_SHARD * size,
            (maxAge.isZero() ? DEFAULT_REDIAL_PERIOD : maxAge).toNanos(),
            ticker);
    this.rebalancer =
        new ShardRebalancer(
            slots, lifecycle, new PodShares(size), budget, observer, this, syncContext, scheduler);
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
            pool.lifecycle.dialAll();
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
          dialer.shutdown(true);
        });
  }

  /* Every timer the pool has armed: the re-dial retry, then the lifecycle's. */
  private void cancelTimers() {
    rebalancer.cancel();
    lifecycle.cancelTimers();
  }

  int size() {
    return slots.size();
  }

  /** The shards now in the slots, in slot order. */
  List<Shard> shards() {
    return slots.shards();
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
    int start = slots.nextStart();
    if (shutdown) {
      return slots.get(start).channel.newCall(method, options); // fails: shut down
    }
    if (idle) {
      syncContext.execute(this::exitIdle);
    }
    return slots.newCall(method, options, start);
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
    syncContext.execute(lifecycle::resetConnectBackoff);
  }

  /** Every shard enters idle (closing its connection once its calls finish) until the next call. */
  void enterIdle() {
    syncContext.execute(
        () -> {
          if (shutdown) {
            return;
          }
          idle = true;
          lifecycle.giveUpReplacements();
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
          dialer.shutdown(now);
          state.gotoState(SHUTDOWN);
        });
  }

  @Override
  public boolean isShutdown() {
    return shutdown;
  }

  @Override
  public boolean isIdle() {
    return idle;
  }

  boolean isTerminated() {
    return shutdown && dialer.allTerminated();
  }

  boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    return dialer.awaitTermination(timeout, unit) && isTerminated();
  }

  /** Re-dials of duplicate shards so far (for tests and diagnostics). */
  long redials() {
    return rebalancer.redials();
  }

  // ---- everything below runs in syncContext ----

  /* Any thread: a response named a new pod for `shard`. */
  private void onIdentity(Shard shard, String pod) {
    syncContext.execute(() -> rebalancer.rebalance(shard));
  }

  /* Aggregated as round_robin does: READY if any shard is; TRANSIENT_FAILURE once all are, and
   * sticky until one is READY; CONNECTING otherwise (IDLE shards are reconnecting). */
  @Override
  public void updateState() {
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
}
