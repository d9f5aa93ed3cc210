package io.github.kubegrpclb.testing.fleet;

import io.github.kubegrpclb.testing.FakeClock;
import io.grpc.Attributes;
import io.grpc.ConnectivityState;
import io.grpc.Deadline;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.Status;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A deterministic simulation of one client channel in front of a fleet of pods: the balancer under
 * test (built by a {@link FleetPolicy} on this simulation's {@link FakeClock} and a seeded random
 * source), simulated connections ({@link SimConnection}), closed-loop callers ({@link SimRpc}) and
 * the resolver's endpoint set, which events change. Time moves only in {@link #runFor}; every
 * timer, the balancer's included, runs on the fake clock, so a seed replays exactly.
 *
 * <p>Not thread-safe: one thread drives it.
 */
final class FleetSim {
  final FleetPolicy policy;
  final Features features;
  final long seed;
  private final FakeClock clock = new FakeClock();
  private final long origin = clock.nanoTime();
  private final Random strikes;
  private final Random balancerRandom;
  private final SimHelper helper;
  private final Map<SocketAddress, SimPod> podsByAddress = new HashMap<>();
  private final List<SimPod> allPods = new ArrayList<>();
  private final Set<SimPod> endpointSet = new LinkedHashSet<>();
  private final ArrayDeque<SimRpc.Call> buffered = new ArrayDeque<>();
  private final SimRecorder recorder;
  private LoadBalancer balancer;
  private Object parsedConfig;
  private boolean networkDown;
  private boolean reprocessScheduled;
  private int nextPodId;

  /** Zone of the client (null: no topology). */
  String clientZone;

  SimRpc.DeadlineSource deadlineSource = SimRpc.DeadlineSource.CALL_OPTIONS;
  long deadlineNanos = TimeUnit.SECONDS.toNanos(1);

  /**
   * When above 0, each caller starts a call this often whatever became of its previous ones (open
   * loop, as requests arriving at a server that calls on); otherwise callers are closed-loop.
   */
  long openLoopIntervalNanos;

  /** grpc-java's retry support (on by default): a timed-out attempt closes CANCELLED. */
  boolean retries = true;

  /** Server-side max connection age (0: none); each connection gets GOAWAY near that age. */
  long maxAgeNanos;

  /**
   * How long after a GOAWAY the channel reports the connection IDLE (streams refused meanwhile).
   */
  long goAwayRaceNanos = TimeUnit.MICROSECONDS.toNanos(500);

  final Deadline.Ticker deadlineTicker =
      new Deadline.Ticker() {
        @Override
        public long nanoTime() {
          return clock.nanoTime();
        }
      };

  FleetSim(FleetPolicy policy, Features features, long seed, SimRecorder.Listener windows) {
    this.policy = policy;
    this.features = features;
    this.seed = seed;
    this.strikes = stream(seed, SALT_STRIKES, 0);
    this.balancerRandom = new Random(seed * 31 + 7);
    this.helper = new SimHelper(this, clock);
    this.recorder = new SimRecorder(this, windows);
  }

  // --- time ---

  /** Simulated nanoseconds since the start. */
  long now() {
    return clock.nanoTime() - origin;
  }

  ScheduledExecutorService scheduler() {
    return clock.scheduler();
  }

  ScheduledFuture<?> schedule(long delayNanos, Runnable task) {
    return clock.scheduler().schedule(task, delayNanos, TimeUnit.NANOSECONDS);
  }

  /** Runs the simulation for {@code nanos}, every due timer in order. */
  void runFor(long nanos) {
    long end = clock.nanoTime() + nanos;
    while (clock.nanoTime() < end) {
      long step = Math.min(TimeUnit.MILLISECONDS.toNanos(100), end - clock.nanoTime());
      clock.forward(Duration.ofNanos(step));
      helper.checkNoErrors();
    }
  }

  /*
   * Random streams. The balancer's picks must not move anything the run is judged by: which pod an
   * event strikes, the pods' latencies and the network's timing each draw from a stream of their
   * own, and latency and network timing from one stream per pod. So the same seed strikes the same
   * pods, and each pod reconnects at the same moments, whatever the policy (FleetChaos compares a
   * violated window with plain round robin's run of the same seed). Only the number of RPCs a pod
   * answers, and so how far its latency stream has gone, depends on the policy.
   */
  private static final long SALT_STRIKES = 0x5712_1CE5L;
  private static final long SALT_LATENCY = 0x1A7E_11C7L;
  private static final long SALT_NETWORK = 0x0E7_3041L;

  /** An independent stream for {@code salt} and {@code index} of {@code seed} (SplitMix64). */
  static Random stream(long seed, long salt, long index) {
    long z = seed * 0x9E37_79B9_7F4A_7C15L + salt * 0xBF58_476D_1CE4_E5B9L + index;
    z = (z ^ (z >>> 30)) * 0xBF58_476D_1CE4_E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D0_49BB_1331_11EBL;
    return new Random(z ^ (z >>> 31));
  }

  /** {@code nanos} +-20 %, drawn from {@code pod}'s network stream (reconnects, connect times). */
  long jitter(SimPod pod, long nanos) {
    return (long) (nanos * (0.8 + 0.4 * pod.network.nextDouble()));
  }

  /** A uniform fraction in [0, 1) from {@code pod}'s network stream (GOAWAY times). */
  double networkDraw(SimPod pod) {
    return pod.network.nextDouble();
  }

  long failurePauseNanos() {
    return TimeUnit.MILLISECONDS.toNanos(1);
  }

  // --- pods and the resolver ---

  SimPod newPod(String zone, LatencyModel model) {
    int id = nextPodId++;
    SimPod pod =
        new SimPod(id, zone, model, stream(seed, SALT_LATENCY, id), stream(seed, SALT_NETWORK, id));
    allPods.add(pod);
    podsByAddress.put(pod.address, pod);
    return pod;
  }

  List<SimPod> newPods(int count, String zone, LatencyModel model) {
    List<SimPod> pods = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      pods.add(newPod(zone, model));
    }
    return pods;
  }

  /**
   * The pod an event strikes: the first healthy endpoint, or (in a random run) a random one. Throws
   * when no endpoint is healthy.
   */
  SimPod victim() {
    List<SimPod> healthy = new ArrayList<>();
    for (SimPod pod : endpointSet) {
      if (!pod.isSick() && !pod.unstable && pod.reach == SimPod.Reach.SERVING) {
        healthy.add(pod);
      }
    }
    if (healthy.isEmpty()) {
      throw new IllegalStateException("no healthy endpoint left to strike");
    }
    lastVictim = randomVictims ? healthy.get(strikes.nextInt(healthy.size())) : healthy.get(0);
    return lastVictim;
  }

  /** The pod {@link #victim} last returned, or null. */
  SimPod lastVictim;

  /** Whether {@link #victim} picks at random (random event sequences). */
  boolean randomVictims;

  SimPod podAt(SocketAddress address) {
    return podsByAddress.get(address);
  }

  List<SimPod> allPods() {
    return allPods;
  }

  /** The resolver's current endpoints, in publication order. */
  List<SimPod> endpoints() {
    return new ArrayList<>(endpointSet);
  }

  /**
   * Publishes {@code pods} as the endpoint set. Pods new to the set ramp (slow start) when they
   * join pods already serving; when every endpoint is new, none does (the documented rule).
   */
  void publish(List<SimPod> pods) {
    boolean anyKept = false;
    for (SimPod pod : pods) {
      anyKept |= endpointSet.contains(pod);
    }
    long now = now();
    for (SimPod pod : endpointSet) {
      if (!pods.contains(pod)) {
        pod.inSetSinceNanos = -1;
      }
    }
    for (SimPod pod : pods) {
      if (!endpointSet.contains(pod)) {
        pod.inSetSinceNanos = now;
        pod.rampOnNextReady = anyKept;
      }
    }
    endpointSet.clear();
    endpointSet.addAll(pods);
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    for (SimPod pod : pods) {
      groups.add(pod.group(policy));
    }
    Attributes.Builder attributes = Attributes.newBuilder();
    if (clientZone != null) {
      attributes.set(policy.clientZone(), clientZone);
    }
    LoadBalancer.ResolvedAddresses addresses =
        LoadBalancer.ResolvedAddresses.newBuilder()
            .setAddresses(groups)
            .setAttributes(attributes.build())
            .setLoadBalancingPolicyConfig(parsedConfig)
            .build();
    helper.run(
        () -> {
          Status status = balancer.acceptResolvedAddresses(addresses);
          if (!status.isOk() && !groups.isEmpty()) {
            throw new IllegalStateException("balancer rejected " + groups.size() + ": " + status);
          }
        });
  }

  /** Builds the balancer, publishes {@code pods} and starts {@code callers} callers. */
  void start(List<SimPod> pods, int callers) {
    parsedConfig = policy.parse(features.json());
    helper.run(
        () -> balancer = policy.newBalancer(helper, clock.ticker(), balancerRandom::nextInt));
    publish(pods);
    for (SimPod pod : pods) {
      pod.rampOnNextReady = false;
    }
    recorder.start();
    for (int i = 0; i < callers; i++) {
      SimRpc.Caller caller = new SimRpc.Caller(this, i);
      if (openLoopIntervalNanos > 0) {
        caller.every(openLoopIntervalNanos + 37L * i);
      } else {
        caller.next(TimeUnit.MICROSECONDS.toNanos(37L * i));
      }
    }
  }

  void shutdown() {
    helper.run(() -> balancer.shutdown());
  }

  SimHelper helper() {
    return helper;
  }

  SimRecorder recorder() {
    return recorder;
  }

  // --- the network ---

  boolean networkDown() {
    return networkDown;
  }

  void setNetworkDown(boolean down) {
    networkDown = down;
    if (down) {
      for (SimConnection connection : new ArrayList<>(helper.live())) {
        connection.reset();
      }
    }
  }

  /** Every live connection to {@code pod}. */
  List<SimConnection> connectionsTo(SimPod pod) {
    List<SimConnection> result = new ArrayList<>();
    for (SimConnection connection : helper.live()) {
      if (connection.pod == pod) {
        result.add(connection);
      }
    }
    return result;
  }

  /** The pod's process dies: connections reset, new ones refused, until {@link #restart}. */
  void crash(SimPod pod) {
    pod.reach = SimPod.Reach.DOWN;
    for (SimConnection connection : connectionsTo(pod)) {
      connection.reset();
    }
  }

  /** A crashed pod's container restarts: a cold process, ramped when others serve. */
  void restart(SimPod pod, boolean ramp) {
    pod.reach = SimPod.Reach.SERVING;
    pod.servedSinceStart = 0;
    pod.rampOnNextReady = ramp;
  }

  void connectionReady(SimConnection connection) {
    if (maxAgeNanos > 0) {
      scheduleGoAway(connection, jitterAge(connection.pod, maxAgeNanos));
    }
  }

  void scheduleGoAway(SimConnection connection, long delayNanos) {
    schedule(
        delayNanos,
        () -> {
          if (connection.state() == ConnectivityState.READY) {
            connection.goAway(goAwayRaceNanos);
          }
        });
  }

  private long jitterAge(SimPod pod, long age) {
    return (long) (age * (0.9 + 0.2 * pod.network.nextDouble()));
  }

  /** The balancer was told that {@code pod}'s connection became READY or stopped being READY. */
  void podReadyChanged(SimPod pod, boolean ready) {
    long now = now();
    if (!ready) {
      pod.readySinceNanos = -1;
      return;
    }
    pod.readySinceNanos = now;
    boolean othersServing = false;
    for (SimPod other : endpointSet) {
      othersServing |= other != pod && other.readySinceNanos >= 0;
    }
    if (features.slowStart && pod.rampOnNextReady && othersServing) {
      pod.rampStartNanos = now;
    }
    pod.rampOnNextReady = false;
  }

  /** Whether the balancer was told some connection is READY. */
  boolean anyReady() {
    for (SimConnection connection : helper.live()) {
      if (connection.state() == ConnectivityState.READY && !connection.draining) {
        return true;
      }
    }
    return false;
  }

  // --- buffering ---

  void buffer(SimRpc.Call call, boolean byPolicy) {
    buffered.add(call);
    recorder.buffered(byPolicy && anyReady());
  }

  void pickerChanged() {
    if (!reprocessScheduled && !buffered.isEmpty()) {
      reprocessScheduled = true;
      schedule(0, this::reprocess);
    }
  }

  private void reprocess() {
    reprocessScheduled = false;
    int count = buffered.size();
    for (int i = 0; i < count; i++) {
      SimRpc.Call call = buffered.poll();
      if (!call.done) {
        call.pick();
      }
    }
  }
}
