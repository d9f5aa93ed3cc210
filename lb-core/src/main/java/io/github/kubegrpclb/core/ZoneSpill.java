package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.SynchronizationContext;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

/**
 * Load-aware zone spill: keeps a client on the endpoints its topology hints prefer (same node, same
 * zone, see {@link Rotation}) only while they are not overloaded, and lets just enough other
 * endpoints join the rotation to carry the excess. With static hints (spill disabled, or no hints)
 * it is a no-op. Decisions change the rotation, never the pick: pickers stay lock-free and
 * allocation-free, and the RPCs are counted ({@link ZoneLoad}) only while spill can matter.
 *
 * <p>Not thread-safe: the balancer calls it, and its timer runs, in the channel's
 * SynchronizationContext.
 */
final class ZoneSpill<T> {
  /*
   * Load, as Linkerd's HAZL (Buoyant Enterprise for Linkerd, "HAZL reference") defines it: RPCs
   * in flight per endpoint, about latency x throughput (Little's law), kept inside a band: above
   * highLoad endpoints of other zones are added, below lowLoad they are removed (HAZL's defaults:
   * 0.8 and 2.0). The band is the hysteresis.
   *
   * HAZL steps endpoints in and out. We size the spill in one step, as Envoy's zone-aware routing
   * computes its spill share from the zones' capacity instead of probing for it: the load the
   * local endpoints would carry without spill is projected from what they carry now,
   *   projected = localInFlight / localCount x completions(all) / completions(local),
   * i.e. the local latency (Little's law) times the whole traffic. Under round robin over local +
   * k others, local load is projected x L / (L + k); the controller keeps k in the range that puts
   * it inside [lowLoad, highLoad]: it adds endpoints as soon as k is below
   * ceil(L x (projected / highLoad - 1)), removes them only once k is above
   * ceil(L x (projected / lowLoad - 1)), and otherwise holds. The projection does not depend on k,
   * so taking traffic back does not by itself push the local zone over the band again: a zone that
   * spilled because it was slow gets its traffic back when it is fast again, not in a loop. With
   * peak_ewma the others' endpoints compete by cost inside the rotation, so they take a larger
   * share of the excess than k / (L + k) when the local ones are the slow ones.
   *
   * In-flight is sampled SAMPLES times per interval; completions are counted. Others join in a
   * fixed order per client: same zone first (when the preference was the node), then by a
   * rendezvous hash of the client's identity and the endpoint's address, so different clients
   * spill to different endpoints and an endpoint that leaves moves only its own share.
   */
  static final int SAMPLES = 10;

  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService scheduler;
  private final IntSupplier clientSeed;
  private final Runnable onChange;
  private ZoneSpillConfig config = ZoneSpillConfig.DEFAULTS;
  private boolean active;
  private List<Endpoint<T>> local = List.of();
  private List<Endpoint<T>> others = List.of();
  private List<Endpoint<T>> spilledEndpoints = List.of();
  private int spilled;
  private long inFlightSamples;
  private int sampleCount;
  private boolean seeded;
  private int seed;
  private SynchronizationContext.ScheduledHandle timer;
  private Object countingKeyFor;
  private Object countingKey;
  private double lastProjectedLoad;

  /**
   * @param clientSeed this client's identity for the order in which others join (read once)
   * @param onChange called (in the SynchronizationContext) when the spill changed: the balancer
   *     rebuilds its rotation through {@link #widen}
   */
  ZoneSpill(
      SynchronizationContext syncContext,
      ScheduledExecutorService scheduler,
      IntSupplier clientSeed,
      Runnable onChange) {
    this.syncContext = syncContext;
    this.scheduler = scheduler;
    this.clientSeed = clientSeed;
    this.onChange = onChange;
  }

  /**
   * The zone/node step of a rotation: returns {@code preferred} plus the endpoints spilled to.
   *
   * @param preferred what {@link Rotation#select} chose from {@code candidates}: a subsequence
   * @param candidates the endpoints {@code preferred} was chosen from
   * @param clientZone the client's zone, or null
   */
  List<Endpoint<T>> widen(
      ZoneSpillConfig config,
      List<Endpoint<T>> preferred,
      List<Endpoint<T>> candidates,
      String clientZone) {
    this.config = config;
    // Every candidate preferred (no hints, the common case) is O(1): no walk, no allocation.
    boolean narrowed = preferred.size() < candidates.size();
    List<Endpoint<T>> rest =
        config.enabled && narrowed && !preferred.isEmpty()
            ? othersReady(preferred, candidates)
            : List.of();
    if (rest.isEmpty()) {
      deactivate(); // no preference applied (or spill is off): nothing to spill to
      return preferred;
    }
    this.local = preferred;
    this.others = rest;
    for (Endpoint<T> endpoint : preferred) {
      countRpcs(endpoint);
    }
    for (Endpoint<T> endpoint : rest) {
      countRpcs(endpoint);
    }
    if (!active) {
      active = true;
      resetWindow();
      scheduleSample();
    }
    spilledEndpoints = spilled == 0 ? List.of() : ranked(rest, clientZone, spilled);
    if (spilledEndpoints.isEmpty()) {
      return preferred;
    }
    List<Endpoint<T>> rotation = new ArrayList<>(preferred.size() + spilledEndpoints.size());
    rotation.addAll(preferred);
    rotation.addAll(spilledEndpoints);
    return rotation;
  }

  /** Whether unary RPCs are counted: while a preference applies and spill is on. */
  boolean isCounting() {
    return active;
  }

  /** How many endpoints outside the preference are in the rotation. */
  int spilled() {
    return spilled;
  }

  /** The load last projected for the preferred endpoints (RPCs in flight per endpoint). */
  double lastProjectedLoad() {
    return lastProjectedLoad;
  }

  /**
   * The key under which an endpoint's pick results are cached for {@code config}: {@code config}
   * itself, or another object (stable while counting) so results are rebuilt when counting starts
   * or stops.
   */
  Object resultsKey(Object config) {
    if (!active) {
      return config;
    }
    if (countingKeyFor != config) {
      countingKeyFor = config;
      countingKey = new Object();
    }
    return countingKey;
  }

  /** Where an endpoint's unary RPCs are recorded: its telemetry, counted while counting. */
  EndpointTelemetry unaryTelemetry(Endpoint<T> endpoint) {
    return active && endpoint.zoneLoad != null ? endpoint.zoneLoad : endpoint.telemetry();
  }

  void stop() {
    deactivate();
  }

  private void countRpcs(Endpoint<T> endpoint) {
    if (endpoint.zoneLoad == null) {
      endpoint.zoneLoad = new ZoneLoad(endpoint.telemetry());
    }
  }

  private void deactivate() {
    active = false;
    spilled = 0;
    local = List.of();
    others = List.of();
    spilledEndpoints = List.of();
    if (timer != null) {
      timer.cancel();
      timer = null;
    }
  }

  /** The READY-condition candidates not in {@code preferred}; both lists share one order. */
  private static <T> List<Endpoint<T>> othersReady(
      List<Endpoint<T>> preferred, List<Endpoint<T>> candidates) {
    List<Endpoint<T>> rest = null;
    int i = 0;
    for (Endpoint<T> endpoint : candidates) {
      if (i < preferred.size() && preferred.get(i) == endpoint) {
        i++;
      } else if (endpoint.condition() == EndpointCondition.READY) {
        if (rest == null) {
          rest = new ArrayList<>();
        }
        rest.add(endpoint);
      }
    }
    return rest == null ? List.of() : rest;
  }

  /** The first {@code count} of {@code rest} in this client's spill order. */
  private List<Endpoint<T>> ranked(List<Endpoint<T>> rest, String clientZone, int count) {
    if (!seeded) {
      seeded = true;
      seed = clientSeed.getAsInt();
    }
    int n = rest.size();
    long[] keys = new long[n];
    for (int i = 0; i < n; i++) {
      Endpoint<T> endpoint = rest.get(i);
      Set<String> hints = endpoint.group().getAttributes().get(EndpointAttributes.ZONE_HINTS);
      boolean sameZone = clientZone != null && hints != null && hints.contains(clientZone);
      long score = mix(seed * 0x9E3779B97F4A7C15L + addressHash(endpoint)) >>> 1;
      keys[i] = sameZone ? score >>> 1 : score | Long.MIN_VALUE >>> 1;
    }
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.comparingLong(i -> keys[i]));
    List<Endpoint<T>> chosen = new ArrayList<>(Math.min(count, n));
    for (int i = 0; i < Math.min(count, n); i++) {
      chosen.add(rest.get(order[i]));
    }
    return chosen;
  }

  private static long addressHash(Endpoint<?> endpoint) {
    long h = 17;
    for (SocketAddress address : endpoint.group().getAddresses()) {
      h = h * 31 + address.hashCode();
    }
    return h;
  }

  /** SplitMix64's finalizer: a well-mixed 64-bit hash. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  private void scheduleSample() {
    timer =
        syncContext.schedule(
            this::sample,
            Math.max(1, config.intervalNanos / SAMPLES),
            TimeUnit.NANOSECONDS,
            scheduler);
  }

  private void resetWindow() {
    inFlightSamples = 0;
    sampleCount = 0;
    for (Endpoint<T> endpoint : local) {
      endpoint.zoneLoad.windowCompletedBase = endpoint.zoneLoad.completed();
    }
    for (Endpoint<T> endpoint : spilledEndpoints) {
      endpoint.zoneLoad.windowCompletedBase = endpoint.zoneLoad.completed();
    }
  }

  private void sample() {
    timer = null;
    if (!active) {
      return;
    }
    for (Endpoint<T> endpoint : local) {
      inFlightSamples += endpoint.zoneLoad.inFlight();
    }
    if (++sampleCount >= SAMPLES) {
      decide();
    }
    if (active && timer == null) {
      scheduleSample();
    }
  }

  private void decide() {
    long localCompleted = completedInWindow(local);
    long spilledCompleted = completedInWindow(spilledEndpoints);
    double load = (double) inFlightSamples / sampleCount / local.size();
    inFlightSamples = 0;
    sampleCount = 0;
    double projected;
    if (localCompleted > 0) {
      projected = load * (localCompleted + spilledCompleted) / localCompleted;
    } else if (spilledCompleted == 0) {
      projected = load; // no traffic done: only what is stuck in flight counts
    } else {
      return; // all traffic went elsewhere: no local latency to project from, hold
    }
    lastProjectedLoad = projected;
    int atLeast = needed(projected, config.highLoad);
    int atMost = needed(projected, config.lowLoad);
    int next = Math.min(others.size(), Math.max(atLeast, Math.min(spilled, atMost)));
    if (next != spilled) {
      spilled = next;
      onChange.run();
      resetWindow(); // the new spill set's window starts now
    }
  }

  /** Others needed for the local endpoints' share of {@code projected} to be at most target. */
  private int needed(double projected, double target) {
    if (projected <= target) {
      return 0;
    }
    double exact = local.size() * (projected / target - 1);
    return (int) Math.min(Integer.MAX_VALUE, Math.ceil(exact - 1e-9));
  }

  private static <T> long completedInWindow(List<Endpoint<T>> endpoints) {
    long sum = 0;
    for (Endpoint<T> endpoint : endpoints) {
      ZoneLoad load = endpoint.zoneLoad;
      long completed = load.completed();
      sum += completed - load.windowCompletedBase;
      load.windowCompletedBase = completed;
    }
    return sum;
  }
}
