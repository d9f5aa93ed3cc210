package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.github.kubegrpclb.core.internal.ZoneSpillStatus;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.SynchronizationContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import javax.annotation.Nullable;

/**
 * Load-aware zone spill: keeps a client on the endpoints its topology hints prefer (same node, same
 * zone, see {@link Rotation}) only while they are not overloaded, and lets just enough other
 * endpoints join the rotation to carry the excess. With static hints (spill disabled, or no hints)
 * it is a no-op. Decisions change the rotation, never the pick: pickers stay lock-free and
 * allocation-free, and the RPCs are counted ({@link SpillCounter}) only while spill can matter.
 *
 * <p>Not thread-safe: the balancer calls it, and its timer runs, in the channel's
 * SynchronizationContext. What it decided is {@link #published published} for gauges and snapshots
 * on other threads.
 */
final class ZoneSpill<T> {
  /*
   * Load, as Linkerd's HAZL (Buoyant Enterprise for Linkerd, "HAZL reference") defines it: RPCs
   * in flight per endpoint, about latency x throughput (Little's law), kept inside a band: above
   * highLoad endpoints of other zones are added, below lowLoad they are removed (HAZL's defaults:
   * 0.8 and 2.0). The band is the hysteresis.
   *
   * HAZL steps endpoints in and out. We size the spill in one step, as Envoy's zone-aware routing
   * computes its spill share from the zones' relative sizes instead of probing for it: the load the
   * preferred endpoints would carry without spill is projected from what they carry now,
   *   projected = preferredInFlight / L x completions(all) / completions(preferred),
   * i.e. the preferred endpoints' latency (Little's law) times the whole traffic, L their count.
   * Under round robin over the preferred + k others, their load is projected x L / (L + k); the controller keeps k in the range that puts
   * it inside [lowLoad, highLoad]: it adds endpoints as soon as k is below
   * ceil(L x (projected / highLoad - 1)), removes them only once k is above
   * ceil(L x (projected / lowLoad - 1)), and otherwise holds. The projection does not depend on k,
   * so taking traffic back does not by itself push the local zone over the band again: a zone that
   * spilled because it was slow gets its traffic back when it is fast again, not in a loop. With
   * peak_ewma the others' endpoints compete by cost inside the rotation, so they take a larger
   * share of the excess than k / (L + k) when the preferred ones are the slow ones.
   *
   * In-flight is sampled SAMPLES times per interval; completions are counted. Others join in a
   * fixed order per client: same zone first (when the preference was the node), then by a
   * rendezvous hash of the client's identity and the endpoint's address, so different clients
   * spill to different endpoints and an endpoint that leaves moves only its own share.
   */
  static final int SAMPLES = 10;

  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService scheduler;
  private final Runnable onChange;
  private ZoneSpillConfig config = ZoneSpillConfig.DEFAULTS;
  private boolean active; // counting unary RPCs: a preference applies and spill is on
  private boolean sampling; // the window runs: active, and widened since
  private List<Endpoint<T>> preferredEndpoints = List.of();
  private int othersCount;
  // The ready endpoints spill draws from; null while inactive.
  @Nullable private EndpointList<T> spillList;
  private List<Endpoint<T>> spilledEndpoints = List.of();
  // The widened rotation last built, and what it was built from (identity: snapshots are stable);
  // all three null until spill first widens and after it deactivates.
  @Nullable private EndpointList.Snapshot<T> widened;
  @Nullable private EndpointList.Snapshot<T> widenedFrom;
  @Nullable private EndpointList.Snapshot<T> widenedReady;
  private int widenedSpill;
  private boolean spilling;
  private int spilled;
  @Nullable private SynchronizationContext.ScheduledHandle timer; // the next sample, or null
  @Nullable private Object countingKeyFor; // the config countingKey stands for; null at first
  private Object countingKey = new Object(); // replaced whenever countingKeyFor changes
  private double measuredLoad = Double.NaN;
  @Nullable private String clientZone; // null when unknown
  // Written in the SynchronizationContext, read by gauges and snapshots; null while inactive.
  @Nullable private volatile Published<T> published;
  private final SpillWindow<T> window = new SpillWindow<>();
  private final SpillOrder order;

  /** What spill did, for readers on any thread; immutable. */
  static final class Published<T> {
    final ZoneSpillStatus status;
    final List<Endpoint<T>> spilledTo;

    Published(ZoneSpillStatus status, List<Endpoint<T>> spilledTo) {
      this.status = status;
      this.spilledTo = spilledTo;
    }
  }

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
    this.order = new SpillOrder(clientSeed);
    this.onChange = onChange;
  }

  /**
   * The zone/node step of a rotation: returns {@code preferred} plus the endpoints spilled to. O(1)
   * when nothing spills (the common case) or when the ready endpoints did not change since the last
   * call; O(ready endpoints) to rebuild the widened rotation otherwise.
   *
   * @param preferred what {@link Rotation#select} chose from {@code rotationLists}, or null
   * @param snapshot {@code preferred}'s snapshot (empty when it is null)
   * @param clientZone the client's zone, or null
   */
  EndpointList.Snapshot<T> widen(
      ZoneSpillConfig config,
      RotationLists<T> rotationLists,
      @Nullable EndpointList<T> preferred,
      EndpointList.Snapshot<T> snapshot,
      @Nullable String clientZone) {
    this.config = config;
    spilling = false;
    int rest = others(rotationLists, preferred, snapshot);
    if (!config.enabled || rest <= 0) {
      deactivate(); // no preference applied (or spill is off): nothing to spill to
      return snapshot;
    }
    this.preferredEndpoints = snapshot;
    this.othersCount = rest;
    this.spillList = rotationLists.admissible().ready;
    this.clientZone = clientZone;
    if (!sampling) {
      sampling = true;
      measuredLoad = Double.NaN;
      window.reset(preferredEndpoints, spilledEndpoints);
      scheduleSample();
    }
    if (spilled == 0) {
      spilledEndpoints = List.of();
      publish();
      return snapshot;
    }
    EndpointList.Snapshot<T> ready = spillList.snapshot();
    // Compared with their pick results, not only their members: a config change (outlier ejection
    // turned on, say) rebuilds every result, and a widened rotation kept from before would hand
    // out the old ones until the spill changed (issue 25).
    if (widened == null
        || widenedFrom == null
        || widenedReady == null
        || !widenedFrom.sameMembersAndResults(snapshot)
        || !widenedReady.sameMembersAndResults(ready)
        || widenedSpill != spilled) {
      widened = widen(rotationLists, preferred, snapshot, ready, clientZone);
      widenedFrom = snapshot;
      widenedReady = ready;
      widenedSpill = spilled;
    }
    spilling = true;
    publish();
    return widened;
  }

  /**
   * Whether spill applies to a rotation: it is on, and a topology preference narrowed the rotation
   * to {@code preferred}, leaving other ready endpoints out. A query: the balancer asks it first,
   * and when the answer differs from {@link #isCounting}, switches counting ({@link #count}) and
   * rebuilds the pick results before it {@linkplain #widen widens}.
   */
  boolean applies(
      ZoneSpillConfig config,
      RotationLists<T> rotationLists,
      @Nullable EndpointList<T> preferred,
      EndpointList.Snapshot<T> snapshot) {
    return config.enabled && others(rotationLists, preferred, snapshot) > 0;
  }

  /** Starts or stops counting unary RPCs; stopping ends the spill. */
  void count(boolean counting) {
    if (counting) {
      active = true;
    } else {
      deactivate();
    }
  }

  /** The ready endpoints a preference left out of the rotation (0 when none applied). */
  private static <T> int others(
      RotationLists<T> rotationLists,
      @Nullable EndpointList<T> preferred,
      EndpointList.Snapshot<T> snapshot) {
    RotationLists.AdmissionLists<T> lists = rotationLists.admissible();
    boolean narrowed =
        preferred != null
            && !snapshot.isEmpty()
            && (preferred == lists.sameZone || preferred == lists.sameNode);
    return narrowed ? lists.ready.size() - snapshot.size() : 0;
  }

  /**
   * The spill as last decided, or null while no preference applies (or spill is off); any thread.
   */
  @Nullable
  Published<T> published() {
    return published;
  }

  private void publish() {
    Published<T> current = published;
    if (current != null
        && current.spilledTo == spilledEndpoints
        && current.status.others == othersCount
        && Double.compare(current.status.localLoad, measuredLoad) == 0
        && current.status.lowLoad == config.lowLoad
        && current.status.highLoad == config.highLoad
        && Objects.equals(current.status.clientZone, clientZone)) {
      return; // unchanged: most rotation updates (connectivity changes) keep the spill as it is
    }
    published =
        new Published<>(
            new ZoneSpillStatus(
                clientZone,
                spilledEndpoints.size(),
                othersCount,
                measuredLoad,
                config.lowLoad,
                config.highLoad),
            spilledEndpoints);
  }

  /** Whether the last {@link #widen} added endpoints, so its rotation is {@link #spillList}. */
  boolean spilling() {
    return spilling;
  }

  private EndpointList.Snapshot<T> widen(
      RotationLists<T> rotationLists,
      @Nullable EndpointList<T> preferred,
      EndpointList.Snapshot<T> snapshot,
      EndpointList.Snapshot<T> ready,
      @Nullable String clientZone) {
    List<Integer> rest = new ArrayList<>(ready.size() - snapshot.size());
    for (int i = 0; i < ready.size(); i++) {
      if (!rotationLists.isMember(ready.get(i), preferred)) {
        rest.add(i);
      }
    }
    List<Integer> chosen = order.first(ready, rest, clientZone, spilled);
    EndpointList<T> list = new EndpointList<>(snapshot.size() + chosen.size());
    PickResult[] results = new PickResult[2];
    for (int i = 0; i < snapshot.size(); i++) {
      results[0] = snapshot.unaryResults()[i];
      results[1] = snapshot.streamResults()[i];
      list.add(snapshot.get(i), results);
    }
    List<Endpoint<T>> spilledTo = new ArrayList<>(chosen.size());
    for (int i : chosen) {
      results[0] = ready.unaryResults()[i];
      results[1] = ready.streamResults()[i];
      list.add(ready.get(i), results);
      spilledTo.add(ready.get(i));
    }
    spilledEndpoints = spilledTo;
    return list.snapshot();
  }

  /**
   * The list the endpoints of a widened rotation are drawn from (for slow-start membership); null
   * while spill is inactive, never after a {@link #widen} that reported {@link #spilling}.
   */
  @Nullable
  EndpointList<T> spillList() {
    return spillList;
  }

  /** Whether unary RPCs are counted: while a preference applies and spill is on. */
  boolean isCounting() {
    return active;
  }

  /** How many endpoints outside the preference are in the rotation. */
  int spilled() {
    return spilled;
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

  /** Where an endpoint's unary RPCs are recorded: its {@code telemetry}, counted while counting. */
  EndpointTelemetry unaryTelemetry(Endpoint<T> endpoint, EndpointTelemetry telemetry) {
    if (!active) {
      return telemetry;
    }
    return window.telemetry(endpoint, telemetry);
  }

  /** The balancer shut {@code endpoint} down: its counts go. */
  void forget(Endpoint<T> endpoint) {
    window.forget(endpoint);
  }

  void stop() {
    deactivate();
  }

  private void deactivate() {
    active = false;
    sampling = false;
    spilled = 0;
    preferredEndpoints = List.of();
    othersCount = 0;
    spillList = null;
    spilledEndpoints = List.of();
    widened = null;
    widenedFrom = null;
    widenedReady = null;
    published = null;
    if (timer != null) {
      timer.cancel();
      timer = null;
    }
  }

  private void scheduleSample() {
    timer =
        syncContext.schedule(
            this::sample,
            Math.max(1, config.intervalNanos / SAMPLES),
            TimeUnit.NANOSECONDS,
            scheduler);
  }

  private void sample() {
    timer = null;
    if (!sampling) {
      return;
    }
    if (window.sample(preferredEndpoints) >= SAMPLES) {
      decide();
    }
    if (sampling && timer == null) {
      scheduleSample();
    }
  }

  private void decide() {
    long preferredCompleted = window.completed(preferredEndpoints);
    long spilledCompleted = window.completed(spilledEndpoints);
    double load = window.meanInFlight() / preferredEndpoints.size();
    double projected;
    if (preferredCompleted > 0) {
      projected = load * (preferredCompleted + spilledCompleted) / preferredCompleted;
    } else if (spilledCompleted == 0) {
      projected = load; // no traffic done: only what is stuck in flight counts
    } else {
      return; // all traffic went elsewhere: no preferred latency to project from, hold
    }
    measuredLoad = projected;
    int atLeast = needed(projected, config.highLoad);
    int atMost = needed(projected, config.lowLoad);
    int next = Math.min(othersCount, Math.max(atLeast, Math.min(spilled, atMost)));
    if (next != spilled) {
      spilled = next;
      onChange.run();
      window.reset(preferredEndpoints, spilledEndpoints); // the new spill set's window starts now
    }
    publish();
  }

  /** Others needed for the preferred endpoints' share of {@code projected} to be at most target. */
  private int needed(double projected, double target) {
    if (projected <= target) {
      return 0;
    }
    double exact = preferredEndpoints.size() * (projected / target - 1);
    return (int) Math.min(Integer.MAX_VALUE, Math.ceil(exact - 1e-9));
  }
}
