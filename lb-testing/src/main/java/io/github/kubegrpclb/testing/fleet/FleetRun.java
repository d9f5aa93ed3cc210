package io.github.kubegrpclb.testing.fleet;

import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Runs fleet simulations: one event on its own fleet ({@link #event}), or a random sequence of
 * events ({@link #randomSequence}), and reports every invariant {@link FleetChecker} found broken.
 * Each call builds its own simulation: thread-safe, and runs may go in parallel.
 */
public final class FleetRun {
  /** When the single event strikes: after the fleet has served for a while. */
  static final long EVENT_AT_NANOS = TimeUnit.SECONDS.toNanos(3);

  /** Windows checked after the event settled. */
  static final long SETTLED_WINDOWS_NANOS = TimeUnit.SECONDS.toNanos(2);

  private FleetRun() {}

  /** Runs {@code event} on its fleet with {@code policy} and {@code features}, seeded. */
  public static FleetReport event(
      FleetPolicy policy, Features features, FleetEvent event, long seed) {
    FleetChecker checker = new FleetChecker(policy, features, event.name(), seed);
    FleetSim sim = new FleetSim(policy, features, seed, checker);
    event.setUp(sim);
    sim.start(event.initialPods(sim), event.callers);
    sim.runFor(event.eventAtNanos());
    long settle = event.apply(sim);
    checker.settleAt(sim.now() + settle);
    sim.runFor(settle + SETTLED_WINDOWS_NANOS);
    sim.shutdown();
    return new FleetReport(
        "policy=" + policy.name() + " features=" + features + " event=" + event + " seed=" + seed,
        checker.violations(),
        checker.windows());
  }

  /**
   * Runs {@code events} random events one after another (random pauses of 3-15 s) on a random fleet
   * of 6-40 pods, with a random deadline source (callers without a deadline call open-loop); the
   * seed decides everything. The report's run names each event with its second and the pod it
   * struck ({@code SLOW_POD@39:pod-3}): the same for every policy on the same seed.
   */
  public static FleetReport randomSequence(
      FleetPolicy policy, Features features, long seed, int events) {
    return randomSequence(policy, features, seed, events, false);
  }

  /**
   * As {@link #randomSequence(FleetPolicy, Features, long, int)}; with {@code observeEveryWindow}
   * the report also holds what each check measured in every window ({@link FleetReport#observed}).
   */
  public static FleetReport randomSequence(
      FleetPolicy policy, Features features, long seed, int events, boolean observeEveryWindow) {
    Random plan = new Random(seed ^ 0x5DEECE66DL);
    FleetChecker checker = new FleetChecker(policy, features, "random(" + events + ")", seed);
    if (observeEveryWindow) {
      checker.observeEveryWindow();
    }
    FleetSim sim = new FleetSim(policy, features, seed, checker);
    sim.randomVictims = true;
    SimRpc.DeadlineSource[] sources = SimRpc.DeadlineSource.values();
    sim.deadlineSource = sources[plan.nextInt(sources.length)];
    sim.deadlineNanos = TimeUnit.MILLISECONDS.toNanos(200 + plan.nextInt(800));
    if (sim.deadlineSource == SimRpc.DeadlineSource.NONE) {
      // As in HUNG_POD_NO_DEADLINE: a closed-loop caller whose call reached a black-holed or hung
      // pod before anyone could notice waits for ever, whatever the policy (seed 15: 5 of 5
      // callers in flight on the partitioned pod, 0 RPCs per window with ejection on or off).
      sim.openLoopIntervalNanos = TimeUnit.MILLISECONDS.toNanos(2);
    }
    int pods = 6 + plan.nextInt(35);
    sim.start(sim.newPods(pods, null, FleetEvent.healthy()), 4 + plan.nextInt(13));
    sim.runFor(EVENT_AT_NANOS);
    StringBuilder sequence = new StringBuilder();
    List<FleetEvent> choices =
        List.of(
            FleetEvent.SCALE_UP_X2,
            FleetEvent.SCALE_DOWN_HALF,
            FleetEvent.ROLLING_UPDATE_ONE_BY_ONE,
            FleetEvent.ROLLING_UPDATE_SURGE_25,
            FleetEvent.BLUE_GREEN,
            FleetEvent.CLIENT_BLIP,
            FleetEvent.MAX_CONNECTION_AGE,
            FleetEvent.POD_CRASH,
            FleetEvent.PARTITION,
            FleetEvent.HUNG_POD_CALL_OPTIONS_DEADLINE,
            FleetEvent.SLOW_POD,
            FleetEvent.FAST_FAILING_POD,
            FleetEvent.FLAPPING_ENDPOINT);
    for (int i = 0; i < events; i++) {
      FleetEvent event = choices.get(plan.nextInt(choices.size()));
      int size = sim.endpoints().size();
      if (event == FleetEvent.SCALE_UP_X2 && size > 100
          || event == FleetEvent.SCALE_DOWN_HALF && size < 12
          || isStrike(event) && strickenCount(sim) + 1 > size / 5) {
        event = FleetEvent.ROLLING_UPDATE_SURGE_25; // keeps the fleet in a range the checks cover
      }
      sequence
          .append(i == 0 ? "" : ", ")
          .append(event)
          .append('@')
          .append(sim.now() / 1_000_000_000L);
      checker.settleAt(Long.MAX_VALUE);
      sim.lastVictim = null;
      long settle = event.apply(sim);
      if (sim.lastVictim != null) {
        sequence.append(':').append(sim.lastVictim); // the same pod whatever the policy
      }
      checker.settleAt(sim.now() + settle);
      sim.runFor(TimeUnit.SECONDS.toNanos(3 + plan.nextInt(13)));
    }
    sim.runFor(SETTLED_WINDOWS_NANOS);
    sim.shutdown();
    return new FleetReport(
        "policy="
            + policy.name()
            + " features="
            + features
            + " seed="
            + seed
            + " events=["
            + sequence
            + "]",
        checker.violations(),
        checker.windows(),
        checker.observed());
  }

  private static boolean isStrike(FleetEvent event) {
    return event == FleetEvent.PARTITION
        || event == FleetEvent.HUNG_POD_CALL_OPTIONS_DEADLINE
        || event == FleetEvent.SLOW_POD
        || event == FleetEvent.FAST_FAILING_POD
        || event == FleetEvent.FLAPPING_ENDPOINT
        || event == FleetEvent.POD_CRASH;
  }

  private static int strickenCount(FleetSim sim) {
    int count = 0;
    for (SimPod pod : sim.endpoints()) {
      count += pod.isSick() || pod.unstable || pod.reach != SimPod.Reach.SERVING ? 1 : 0;
    }
    return count;
  }
}
