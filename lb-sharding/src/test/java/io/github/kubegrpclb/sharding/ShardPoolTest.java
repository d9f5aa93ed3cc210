package io.github.kubegrpclb.sharding;

import static io.grpc.ConnectivityState.CONNECTING;
import static io.grpc.ConnectivityState.IDLE;
import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.SHUTDOWN;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.core.LbDebug;
import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.sharding.FakeShardChannel.FakeCall;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.TestMetrics;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The recycling state machine, exactly: a {@link ShardedChannel} over fake shard channels whose
 * states the test sets, with time, timers and jitter from a {@link FakeClock}. No real time passes.
 */
class ShardPoolTest {
  private static final Duration AGE = Duration.ofSeconds(10);
  private static final String OBSERVED = "fake-observed:1";

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  private final FakeClock clock = new FakeClock();
  private final List<FakeShardChannel> dialed = new ArrayList<>();
  private final Queue<Runnable> callbacks = new ArrayDeque<>();
  private double random = 0.5; // jitter factor exactly 1

  private ShardedChannel.Builder builder(int connections) {
    return ShardedChannel.newBuilder("fake:1")
        .connections(connections)
        .maxConnectionAge(AGE)
        .scheduler(clock.scheduler())
        .ticker(clock.ticker())
        .random(() -> random)
        .executor(callbacks::add)
        .dialer(
            () -> {
              FakeShardChannel channel = new FakeShardChannel();
              dialed.add(channel);
              return channel;
            });
  }

  private ShardedChannel build(int connections) {
    return builder(connections).build();
  }

  private FakeShardChannel shard(ShardedChannel channel, int slot) {
    return (FakeShardChannel) channel.pool().shards().get(slot).channel;
  }

  private static void setAll(List<FakeShardChannel> channels, ConnectivityState state) {
    channels.forEach(channel -> channel.setState(state));
  }

  /** A call made through the channel, and the fake channel and call it landed on. */
  private record Placed(ClientCall<String, String> call, FakeShardChannel on, FakeCall<?, ?> fake) {
    void start() {
      call.start(new ClientCall.Listener<>() {}, new Metadata());
    }
  }

  private Placed newCall(ShardedChannel channel) {
    int[] before = dialed.stream().mapToInt(c -> c.calls().size()).toArray();
    ClientCall<String, String> call = channel.newCall(PodService.WHOAMI, CallOptions.DEFAULT);
    for (int i = 0; i < before.length; i++) {
      List<FakeCall<?, ?>> calls = dialed.get(i).calls();
      if (calls.size() > before[i]) {
        return new Placed(call, dialed.get(i), calls.get(calls.size() - 1));
      }
    }
    throw new AssertionError("the call reached no shard channel");
  }

  /** Makes a call that completes at once; returns the fake channel that served it. */
  private FakeShardChannel served(ShardedChannel channel) {
    Placed placed = newCall(channel);
    placed.start();
    placed.fake.close(Status.OK);
    return placed.on;
  }

  /** Answers one started call on the shard in {@code slot} from {@code pod}. */
  private void answerFrom(ShardedChannel channel, int slot, String pod) {
    FakeShardChannel target = shard(channel, slot);
    for (int attempt = 0; attempt < 100; attempt++) {
      Placed placed = newCall(channel);
      placed.start();
      if (placed.on == target) {
        placed.fake.respond(pod);
        placed.fake.close(Status.OK);
        return;
      }
      placed.fake.close(Status.OK);
    }
    throw new AssertionError("no call reached slot " + slot);
  }

  private void runCallbacks() {
    for (int i = 0; i < 1000 && !callbacks.isEmpty(); i++) {
      callbacks.poll().run();
    }
  }

  @Test
  void build_dialsEveryShard_andAsksEachToConnect() {
    ShardedChannel channel = build(4);

    assertThat(dialed).hasSize(4);
    assertThat(dialed).allSatisfy(c -> assertThat(c.connectionRequests).isEqualTo(1));
    assertThat(channel.getState(false)).isEqualTo(CONNECTING);
    assertThat(clock.pendingDelays()).containsExactly(AGE, AGE, AGE, AGE);
  }

  @Test
  void shardGoesIdle_afterGoAwayOrIdleTimeout_isAskedToReconnectAtOnce() {
    ShardedChannel channel = build(3);
    setAll(dialed, READY);

    for (int goAway = 1; goAway <= 3; goAway++) {
      dialed.get(1).setState(IDLE);

      assertThat(dialed.get(1).connectionRequests).isEqualTo(1 + goAway);
      assertThat(dialed.get(1).state()).isEqualTo(CONNECTING);
      dialed.get(1).setState(READY);
    }
    assertThat(dialed.get(0).connectionRequests).isEqualTo(1);
    assertThat(dialed).hasSize(3);
    assertThat(channel.getState(false)).isEqualTo(READY);
  }

  @Test
  void newCall_goesRoundRobinOverReadyShards_skippingTheOthers() {
    ShardedChannel channel = build(3);
    dialed.get(0).setState(READY);
    dialed.get(2).setState(READY);

    List<FakeShardChannel> used = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      used.add(served(channel));
    }

    assertThat(used).doesNotContain(dialed.get(1)).contains(dialed.get(0), dialed.get(2));
  }

  @Test
  void newCall_noShardReady_avoidsShardsInTransientFailure() {
    ShardedChannel channel = build(3);
    dialed.get(0).setState(TRANSIENT_FAILURE);
    dialed.get(2).setState(TRANSIENT_FAILURE);

    for (int i = 0; i < 3; i++) {
      assertThat(served(channel)).isSameAs(dialed.get(1));
    }
  }

  @Test
  void aging_delaysAreTheMaxAgeTimesOnePlusMinusJitter() {
    double[] draws = {0.0, 0.75, 0.5};
    AtomicInteger draw = new AtomicInteger();
    builder(3).random(() -> draws[draw.getAndIncrement()]).build();

    assertThat(clock.pendingDelays())
        .containsExactly(Duration.ofSeconds(8), Duration.ofSeconds(10), Duration.ofSeconds(11));
  }

  @Test
  void aging_replacementConnectsFirst_newCallsMoveOnlyOnceItIsReady() {
    ShardedChannel channel = build(1);
    FakeShardChannel old = dialed.get(0);
    old.setState(READY);

    clock.forward(AGE);

    assertThat(dialed).hasSize(2);
    FakeShardChannel fresh = dialed.get(1);
    assertThat(fresh.connectionRequests).isEqualTo(1);
    assertThat(served(channel)).as("not READY yet").isSameAs(old);
    fresh.setState(IDLE); // e.g. GOAWAY while connecting: asked again
    assertThat(fresh.connectionRequests).isEqualTo(2);

    fresh.setState(READY);

    assertThat(served(channel)).isSameAs(fresh);
    assertThat(shard(channel, 0)).isSameAs(fresh);
    assertThat(clock.pendingDelays()).as("the fresh shard's age").containsExactly(AGE);
  }

  @Test
  void retiredShard_callCreatedBeforeTheSwapAndStartedAfter_runsOnIt_thenItShutsDownGracefully() {
    ShardedChannel channel = build(1);
    FakeShardChannel old = dialed.get(0);
    old.setState(READY);
    Placed before = newCall(channel); // created, not started
    clock.forward(AGE);
    dialed.get(1).setState(READY); // swap

    clock.forward(Duration.ofSeconds(30));
    assertThat(old.isShutdown()).as("a call created on it is still to come").isFalse();
    before.start();
    assertThat(before.fake.started).isTrue();
    assertThat(before.fake.closed).as("not failed").isFalse();
    assertThat(old.isShutdown()).isFalse();

    before.fake.close(Status.OK);

    assertThat(old.isShutdown()).isTrue();
    assertThat(old.shutdownNowCalled()).isFalse();
    assertThat(before.fake.status.isOk()).isTrue();
  }

  @Test
  void retiredShard_withoutCalls_shutsDownAtTheSwap() {
    ShardedChannel channel = build(1);
    FakeShardChannel old = dialed.get(0);
    old.setState(READY);
    Placed done = newCall(channel);
    done.start();
    done.fake.close(Status.OK);
    Placed cancelled = newCall(channel);
    cancelled.call.cancel("not needed", null); // never started: released

    clock.forward(AGE);
    dialed.get(1).setState(READY);

    assertThat(old.isShutdown()).isTrue();
    assertThat(old.shutdownNowCalled()).isFalse();
  }

  @Test
  void retiredShard_callCreatedButNeverStarted_shutsDownAtTheRetireDeadline() {
    ShardedChannel channel = build(1);
    FakeShardChannel old = dialed.get(0);
    old.setState(READY);
    newCall(channel); // abandoned: never started nor cancelled
    clock.forward(AGE);
    dialed.get(1).setState(READY);

    clock.forward(ShardPool.RETIRE_DEADLINE.minusNanos(1));
    assertThat(old.isShutdown()).isFalse();
    clock.forward(Duration.ofNanos(1));
    assertThat(old.isShutdown()).isTrue();
  }

  @Test
  void aging_replacementNeverReady_isDroppedAfterTheReadyTimeout_andTriedAgainNextPeriod() {
    ShardedChannel channel = build(1);
    FakeShardChannel old = dialed.get(0);
    old.setState(READY);
    clock.forward(AGE);
    FakeShardChannel fresh = dialed.get(1);
    fresh.setState(TRANSIENT_FAILURE);

    clock.forward(ShardPool.READY_TIMEOUT.minusNanos(1));
    assertThat(fresh.isShutdown()).isFalse();
    clock.forward(Duration.ofNanos(1));

    assertThat(fresh.shutdownNowCalled()).isTrue();
    assertThat(shard(channel, 0)).isSameAs(old);
    assertThat(old.isShutdown()).isFalse();
    assertThat(served(channel)).isSameAs(old);
    assertThat(clock.pendingDelays()).containsExactly(AGE);
    clock.forward(AGE);
    assertThat(dialed).hasSize(3);
  }

  /** Lets every shard answer from {@code pod}, connecting whatever dials, until nothing changes. */
  private void everyShardReaches(ShardedChannel channel, String pod) {
    for (int round = 0; round < 10; round++) {
      for (int slot = 0; slot < channel.connections(); slot++) {
        answerFrom(channel, slot, pod);
        setAll(dialed.stream().filter(c -> c.state() == CONNECTING).toList(), READY);
      }
    }
  }

  /**
   * pod-a holds 3 of 4 shards with 2 pods known (even share: 2), and slot 3's re-dials keep landing
   * on it: 13 reports against a budget of 12 (3 re-dials per shard per period).
   */
  private void overloadPodAPastTheBudget(ShardedChannel channel) {
    answerFrom(channel, 0, "pod-a");
    answerFrom(channel, 1, "pod-a");
    answerFrom(channel, 2, "pod-b");
    for (int i = 0; i < 13; i++) {
      answerFrom(channel, 3, "pod-a");
      connectDialing();
    }
  }

  @Test
  void unevenSpread_redialsUntilTheBudget_thenRefusesUntilTheNextPeriod() {
    TestMetrics metrics = cleanup.add(new TestMetrics());
    ShardedChannel channel = observed(metrics, 4);
    setAll(dialed, READY);

    overloadPodAPastTheBudget(channel);

    assertThat(redials(metrics, "dialed")).isEqualTo(12);
    assertThat(redials(metrics, "refused")).isEqualTo(1);
    assertThat(channel.pool().redials()).isEqualTo(12);
  }

  @Test
  void evenSpread_3Pods8Shards_onlyTheThirdShardsOfAPodAreRedialed_lookingForAFourthPod() {
    ShardedChannel channel = builder(8).podIdentityHeader(LoopbackPod.POD_HEADER.name()).build();
    setAll(dialed, READY);

    String[] pods = {"pod-0", "pod-1", "pod-2", "pod-0", "pod-1", "pod-2", "pod-0", "pod-1"};
    for (int slot = 0; slot < 8; slot++) {
      answerFrom(channel, slot, pods[slot]);
    }

    // Exploring, the even share counts a 4th pod: ceil(8 / 4) = 2 shards per pod.
    assertThat(channel.pool().redials()).isEqualTo(2);
  }

  @Test
  void
      podLooksFairWhenItsShardsReport_overItsShareOnceAnotherPodReports_oneOfItsShardsIsRedialed() {
    ShardedChannel channel = builder(8).podIdentityHeader(LoopbackPod.POD_HEADER.name()).build();
    setAll(dialed, READY);

    // Slots 0-3 report pod-a first: with one pod known (and one more presumed) 4 is its share.
    for (int slot = 0; slot < 4; slot++) {
      answerFrom(channel, slot, "pod-a");
    }
    assertThat(channel.pool().redials()).isZero();

    // pod-b reports: the share drops to ceil(8 / 3) = 3 and pod-a holds 4, though pod-b is fine.
    answerFrom(channel, 4, "pod-b");
    assertThat(channel.pool().redials()).isEqualTo(1);
    connectDialing();
    assertThat(channel.shardIdentities())
        .as("a pod-a shard replaced by a fresh one, pod not known yet")
        .filteredOn("pod-a"::equals)
        .hasSize(3);
  }

  @Test
  void refusedRedial_isTriedAgainWhenTheBudgetRefills_withoutAnotherReport() {
    TestMetrics metrics = cleanup.add(new TestMetrics());
    ShardedChannel channel = observed(metrics, 4, Duration.ZERO); // no aging: a 5 min period
    setAll(dialed, READY);

    overloadPodAPastTheBudget(channel);
    assertThat(channel.pool().redials()).isEqualTo(12);
    assertThat(redials(metrics, "refused")).isEqualTo(1);

    // No shard reports again: when the budget refills, the pool re-dials on its own.
    clock.forward(ShardPool.DEFAULT_REDIAL_PERIOD.minusNanos(1));
    assertThat(channel.pool().redials()).isEqualTo(12);
    clock.forward(Duration.ofNanos(1));
    assertThat(channel.pool().redials()).isEqualTo(13);
  }

  @Test
  void shutdown_whileARefusedRedialWaitsForTheRefill_cancelsItsRetry() {
    TestMetrics metrics = cleanup.add(new TestMetrics());
    ShardedChannel channel = observed(metrics, 4, Duration.ZERO); // no aging timers
    setAll(dialed, READY);
    overloadPodAPastTheBudget(channel);
    assertThat(redials(metrics, "refused")).isEqualTo(1);
    assertThat(clock.pendingTasks()).as("the retry at the refill").isEqualTo(1);

    channel.shutdown();

    assertThat(clock.pendingTasks()).isZero();
    int dialedBefore = dialed.size();
    clock.forward(ShardPool.DEFAULT_REDIAL_PERIOD);
    assertThat(channel.pool().redials()).isEqualTo(12);
    assertThat(dialed).hasSize(dialedBefore);
  }

  @Test
  void onePod_redialsOncePerShardLookingForAnother_thenStops_agingDoesNotRestartIt() {
    // Jitter draws cycle so that shards age one after another within the next period.
    double[] draws = {0.5, 0.6, 0.7, 0.8, 0.9};
    AtomicInteger draw = new AtomicInteger();
    ShardedChannel channel =
        builder(4)
            .podIdentityHeader(LoopbackPod.POD_HEADER.name())
            .random(() -> draws[draw.getAndIncrement() % draws.length])
            .build();
    setAll(dialed, READY);

    // One pod behind the Service: every shard reaches it, so every re-dial finds a duplicate.
    everyShardReaches(channel, "pod-0");
    assertThat(channel.pool().redials()).isEqualTo(4);
    assertThat(dialed).hasSize(4 + 4);

    // Next period: the 4 shards age at 10 to 11.6 s, each replaced, each reaching pod-0 again.
    clock.forward(AGE.minusMillis(100));
    for (int step = 0; step < 20; step++) {
      clock.forward(Duration.ofMillis(100));
      setAll(dialed.stream().filter(c -> c.state() == CONNECTING).toList(), READY);
      everyShardReaches(channel, "pod-0");
    }

    assertThat(channel.pool().redials()).isEqualTo(4);
    assertThat(dialed).as("4 + 4 re-dials, 4 aged").hasSize(12);
  }

  @Test
  void duplicatePod_distinctPods_noRedial() {
    ShardedChannel channel = builder(3).podIdentityHeader(LoopbackPod.POD_HEADER.name()).build();
    setAll(dialed, READY);

    for (int slot = 0; slot < 3; slot++) {
      answerFrom(channel, slot, "pod-" + slot);
    }

    assertThat(channel.pool().redials()).isZero();
    assertThat(channel.shardIdentities()).containsExactly("pod-0", "pod-1", "pod-2");
  }

  @Test
  void shutdown_duringReplacement_shutsDownEveryChannel_cancelsEveryTimer_swapsNothing() {
    ShardedChannel channel = build(2);
    setAll(dialed, READY);
    Placed open = newCall(channel);
    open.start();
    clock.forward(AGE); // both slots start a replacement
    assertThat(dialed).hasSize(4);
    dialed.get(2).setState(READY); // slot 0 swapped; its old shard retires after its open call

    channel.shutdown();

    assertThat(clock.pendingTasks()).isZero();
    assertThat(dialed).allSatisfy(c -> assertThat(c.isShutdown()).isTrue());
    assertThat(channel.isShutdown()).isTrue();
    assertThat(channel.getState(false)).isEqualTo(SHUTDOWN);
    assertThat(channel.isTerminated()).as("a call is still open").isFalse();
    assertThat(open.fake.closed).as("graceful").isFalse();

    open.fake.close(Status.OK);
    clock.forward(Duration.ofHours(1));
    assertThat(dialed).hasSize(4);
    assertThat(channel.isTerminated()).isTrue();
  }

  @Test
  void shutdownNow_cancelsOpenCallsOnEveryChannel_includingRetiringOnes() {
    ShardedChannel channel = build(1);
    dialed.get(0).setState(READY);
    Placed open = newCall(channel);
    open.start();
    clock.forward(AGE);
    dialed.get(1).setState(READY);

    channel.shutdownNow();

    assertThat(open.fake.status.getCode()).isEqualTo(Status.Code.CANCELLED);
    assertThat(channel.isTerminated()).isTrue();
  }

  @Test
  void shard_retiredWithNoOpenCall_closes_andRefusesNewCalls_soTheCallerTakesTheSlotsNewShard() {
    FakeShardChannel channel = new FakeShardChannel();
    Shard shard = new Shard(0, channel, 0, null, (s, pod) -> {});

    shard.retire();

    assertThat(shard.closed()).isTrue();
    assertThat(channel.isShutdown()).isTrue();
    assertThat(shard.newCall(PodService.WHOAMI, CallOptions.DEFAULT)).isNull();
  }

  @Test
  void newCall_afterShutdown_failsWithUnavailable() {
    ShardedChannel channel = build(2);
    setAll(dialed, READY);
    channel.shutdown();

    Placed late = newCall(channel);
    late.start();

    assertThat(late.fake.status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
  }

  @Test
  void enterIdle_idlesEveryShard_noReconnectNoAging_untilTheNextCallWakesThemAll() {
    ShardedChannel channel = build(3);
    setAll(dialed, READY);

    channel.enterIdle();

    assertThat(dialed).allSatisfy(c -> assertThat(c.idleRequests).isEqualTo(1));
    assertThat(dialed).allSatisfy(c -> assertThat(c.state()).isEqualTo(IDLE));
    assertThat(channel.getState(false)).isEqualTo(IDLE);
    clock.forward(AGE.multipliedBy(3));
    assertThat(dialed).as("no replacement while idle").hasSize(3);
    assertThat(dialed).allSatisfy(c -> assertThat(c.connectionRequests).isEqualTo(1));

    newCall(channel);

    assertThat(dialed).allSatisfy(c -> assertThat(c.connectionRequests).isEqualTo(2));
    assertThat(channel.getState(false)).isEqualTo(CONNECTING);
    setAll(dialed, READY);
    assertThat(channel.getState(false)).isEqualTo(READY);
  }

  @Test
  void enterIdle_thenGetStateRequestingConnection_reconnectsEveryShard() {
    ShardedChannel channel = build(2);
    setAll(dialed, READY);
    channel.enterIdle();

    assertThat(channel.getState(true)).isEqualTo(IDLE);

    assertThat(dialed).allSatisfy(c -> assertThat(c.connectionRequests).isEqualTo(2));
    assertThat(channel.getState(false)).isEqualTo(CONNECTING);
  }

  @Test
  void enterIdle_duringReplacement_dropsTheReplacement() {
    ShardedChannel channel = build(1);
    dialed.get(0).setState(READY);
    clock.forward(AGE);

    channel.enterIdle();

    assertThat(dialed.get(1).shutdownNowCalled()).isTrue();
    assertThat(shard(channel, 0)).isSameAs(dialed.get(0));
  }

  @Test
  void resetConnectBackoff_reachesEveryShardAndReplacement() {
    ShardedChannel channel = build(2);
    setAll(dialed, TRANSIENT_FAILURE);
    dialed.get(0).setState(READY);
    clock.forward(AGE);

    channel.resetConnectBackoff();

    assertThat(dialed).hasSize(4);
    assertThat(dialed).allSatisfy(c -> assertThat(c.backoffResets).isEqualTo(1));
  }

  @Test
  void getState_aggregatesLikeRoundRobin_transientFailureStickyUntilAShardIsReady() {
    ShardedChannel channel = build(3);
    assertThat(channel.getState(false)).isEqualTo(CONNECTING);

    dialed.get(0).setState(READY);
    assertThat(channel.getState(false)).isEqualTo(READY);
    dialed.get(0).setState(TRANSIENT_FAILURE);
    assertThat(channel.getState(false)).as("others still connecting").isEqualTo(CONNECTING);
    setAll(dialed, TRANSIENT_FAILURE);
    assertThat(channel.getState(false)).isEqualTo(TRANSIENT_FAILURE);
    dialed.get(1).setState(CONNECTING); // backoff over, retrying
    assertThat(channel.getState(false)).as("sticky").isEqualTo(TRANSIENT_FAILURE);
    dialed.get(1).setState(READY);
    assertThat(channel.getState(false)).isEqualTo(READY);
    channel.shutdown();
    assertThat(channel.getState(false)).isEqualTo(SHUTDOWN);
  }

  @Test
  void notifyWhenStateChanged_runsOnceOnTheExecutor_whenTheAggregateChanges() {
    ShardedChannel channel = build(2);
    AtomicInteger fired = new AtomicInteger();
    channel.notifyWhenStateChanged(CONNECTING, fired::incrementAndGet);

    dialed.get(1).setState(CONNECTING); // no aggregate change
    assertThat(callbacks).isEmpty();
    dialed.get(0).setState(READY);

    assertThat(fired).as("not before the executor runs it").hasValue(0);
    assertThat(callbacks).hasSize(1);
    runCallbacks();
    assertThat(fired).hasValue(1);
    dialed.get(1).setState(READY);
    dialed.get(0).setState(IDLE);
    runCallbacks();
    assertThat(fired).as("one-shot").hasValue(1);
  }

  @Test
  void notifyWhenStateChanged_sourceIsNotTheCurrentState_runsAtOnceOnTheExecutor() {
    ShardedChannel channel = build(1);
    AtomicInteger fired = new AtomicInteger();

    channel.notifyWhenStateChanged(IDLE, fired::incrementAndGet);

    assertThat(callbacks).hasSize(1);
    runCallbacks();
    assertThat(fired).hasValue(1);
  }

  @Test
  void notifyWhenStateChanged_shutdown_firesWaitingCallbacks_andSourceShutdownNeverFires() {
    ShardedChannel channel = build(1);
    dialed.get(0).setState(READY);
    AtomicInteger fired = new AtomicInteger();
    channel.notifyWhenStateChanged(READY, fired::incrementAndGet);

    channel.shutdown();
    channel.notifyWhenStateChanged(SHUTDOWN, fired::incrementAndGet);
    runCallbacks();

    assertThat(fired).hasValue(1);
  }

  // ---- metrics and snapshot (the sharded channel's observer) ----

  /** A channel to {@link #OBSERVED} recording to {@code metrics}, shut down after the test. */
  private ShardedChannel observed(TestMetrics metrics, int connections) {
    return observed(metrics, connections, AGE);
  }

  private ShardedChannel observed(TestMetrics metrics, int connections, Duration maxAge) {
    return cleanup.channel(
        ShardedChannel.newBuilder(OBSERVED)
            .connections(connections)
            .maxConnectionAge(maxAge)
            .scheduler(clock.scheduler())
            .ticker(clock.ticker())
            .random(() -> random)
            .executor(callbacks::add)
            .podIdentityHeader(LoopbackPod.POD_HEADER.name())
            .telemetry(LbTelemetry.create(metrics.openTelemetry()))
            .dialer(
                () -> {
                  FakeShardChannel channel = new FakeShardChannel();
                  dialed.add(channel);
                  return channel;
                })
            .build());
  }

  private static double recycles(TestMetrics metrics, String reason) {
    return metrics.sum("kube_grpc_lb.shard.recycles", Map.of("target", OBSERVED, "reason", reason));
  }

  private static double redials(TestMetrics metrics, String result) {
    return metrics.sum("kube_grpc_lb.shard.redials", Map.of("target", OBSERVED, "result", result));
  }

  private static double shards(TestMetrics metrics, String state) {
    return metrics.value("kube_grpc_lb.shards", Map.of("target", OBSERVED, "state", state));
  }

  private void connectDialing() {
    setAll(dialed.stream().filter(c -> c.state() == CONNECTING).toList(), READY);
  }

  @Test
  void telemetry_countsRecyclesByReason_redialsAndRefusals_exactly() {
    TestMetrics metrics = cleanup.add(new TestMetrics());
    ShardedChannel channel = observed(metrics, 2);
    assertThat(shards(metrics, "connecting")).isEqualTo(2);
    assertThat(shards(metrics, "ready")).isZero();
    setAll(dialed, READY);
    assertThat(shards(metrics, "ready")).isEqualTo(2);

    // The server's GOAWAY (or a lost connection): the shard leaves READY and reconnects.
    dialed.get(0).setState(IDLE);
    assertThat(recycles(metrics, "connection_closed")).isEqualTo(1);
    assertThat(shards(metrics, "connecting")).isEqualTo(1);
    assertThat(shards(metrics, "ready")).isEqualTo(1);
    dialed.get(0).setState(READY);

    // One pod behind the Service: slot 1 duplicates slot 0. Two re-dials look for another pod
    // (as many as there are shards), then one pod holding both shards is its even share.
    answerFrom(channel, 0, "pod-0");
    answerFrom(channel, 1, "pod-0");
    connectDialing();
    answerFrom(channel, 1, "pod-0");
    connectDialing();
    answerFrom(channel, 1, "pod-0");
    assertThat(redials(metrics, "dialed")).isEqualTo(2);
    assertThat(redials(metrics, "refused")).isZero();
    assertThat(recycles(metrics, "duplicate_pod")).isEqualTo(2);
    assertThat(metrics.value("kube_grpc_lb.shard.pods_reached", Map.of("target", OBSERVED)))
        .isEqualTo(1);

    // Both shards age: replaced make before break; the retired ones closing count nothing.
    clock.forward(AGE);
    connectDialing();
    assertThat(recycles(metrics, "max_age")).isEqualTo(2);

    // Next period: replacements never READY are abandoned after READY_TIMEOUT.
    clock.forward(AGE);
    clock.forward(ShardPool.READY_TIMEOUT);
    assertThat(
            metrics.sum(
                "kube_grpc_lb.shard.replacements.abandoned",
                Map.of("target", OBSERVED, "reason", "max_age")))
        .isEqualTo(2);

    assertThat(recycles(metrics, "connection_closed")).as("only the GOAWAY").isEqualTo(1);
    assertThat(recycles(metrics, "duplicate_pod")).isEqualTo(2);
    assertThat(recycles(metrics, "max_age")).isEqualTo(2);
    assertThat(shards(metrics, "ready")).isEqualTo(2);
    assertThat(metrics.sum("kube_grpc_lb.shards", Map.of("target", OBSERVED))).isEqualTo(2);
  }

  @Test
  void telemetry_enterIdleAndShutdown_areNoRecycles_shutdownStopsTheGauges() {
    TestMetrics metrics = cleanup.add(new TestMetrics());
    ShardedChannel channel = observed(metrics, 3);
    setAll(dialed, READY);

    channel.enterIdle();
    newCall(channel); // wakes every shard
    setAll(dialed, READY);
    assertThat(shards(metrics, "ready")).isEqualTo(3);
    channel.shutdown();

    assertThat(recycles(metrics, "connection_closed")).isZero();
    assertThat(metrics.points("kube_grpc_lb.shards", Map.of("target", OBSERVED))).isEmpty();
    assertThat(LbDebug.snapshot(OBSERVED)).isEmpty();
  }

  @Test
  void snapshot_showsEachShardsStatePodAgeAndCallsInFlight() {
    TestMetrics metrics = cleanup.add(new TestMetrics());
    ShardedChannel channel = observed(metrics, 3);
    setAll(dialed, READY);
    answerFrom(channel, 0, "pod-0");
    answerFrom(channel, 1, "pod-1");
    dialed.get(2).setState(IDLE); // reconnecting: CONNECTING
    clock.forward(Duration.ofMillis(2500));
    Placed open = newCall(channel);
    open.start();
    int busy = dialed.indexOf(open.on);

    String snapshot = LbDebug.snapshot(OBSERVED);

    assertThat(snapshot)
        .startsWith(
            "sharded channel for fake-observed:1: READY, 3 shards (1 CONNECTING, 2 READY), 2 pods"
                + " reached; recycles: connection_closed=1 max_age=0 duplicate_pod=0; re-dials: 0"
                + " (0 refused); replacements abandoned: 0\n");
    for (int slot = 0; slot < 3; slot++) {
      assertThat(snapshot)
          .contains(
              "\n  shard "
                  + slot
                  + (slot == 2 ? " CONNECTING pod=-" : " READY pod=pod-" + slot)
                  + " age=2.5s in-flight="
                  + (slot == busy ? 1 : 0)
                  + (slot == 2 ? "" : " ready-for=2.5s"));
    }
    assertThat(snapshot.lines()).hasSize(4);
  }
}
