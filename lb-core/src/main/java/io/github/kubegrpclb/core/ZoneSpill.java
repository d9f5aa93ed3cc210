package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.ZoneSpillStatus;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.SynchronizationContext;
import java.util.ArrayList;
import java.util.Collection;
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
 * allocation-free, and the RPCs are counted ({@link SpillCounter}) only while spill can matter (it
 * is on, and a hint names the client's zone or node).
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
   * hinted endpoints would carry without spill is projected from what they carry now,
   *   projected = hintedInFlight / L x completions(all) / completions(hinted),
   * i.e. the hinted endpoints' latency (Little's law) times the whole traffic, L their count.
   * Under round robin over the hinted + k others, their load is projected x L / (L + k); the controller keeps k in the range that puts
   * it inside [lowLoad, highLoad]: it adds endpoints as soon as k is below
   * ceil(L x (projected / highLoad - 1)), removes them only once k is above
   * ceil(L x (projected / lowLoad - 1)), and otherwise holds. The projection does not depend on k,
   * so taking traffic back does not by itself push the local zone over the band again: a zone that
   * spilled because it was slow gets its traffic back when it is fast again, not in a loop. With
   * peak_ewma the others' endpoints compete by cost inside the rotation, so they take a larger
   * share of the excess than k / (L + k) when the hinted ones are the slow ones.
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
  private boolean measuring; // unary RPCs are counted: spill is on and a hint names the client
  private boolean sampling; // the window runs: a preference applies and spill is on
  private List<Endpoint<T>> hintedEndpoints = List.of();
  private int othersCount;
  private List<Endpoint<T>> spilledEndpoints = List.of();
  // The widened rotation last built, and what it was built from (identity: snapshots are stable);
  // all three null until spill first widens and after it deactivates.
  @Nullable private EndpointList.Snapshot<T> widened;
  @Nullable private EndpointList.Snapshot<T> widenedFrom;
  @Nullable private EndpointList.Snapshot<T> widenedReady;
  private int widenedSpill;
  private int spilled;
  @Nullable private SynchronizationContext.ScheduledHandle timer; // the next sample, or null
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

  /** A rotation widened by spill: its snapshot, and the list its endpoints are drawn from. */
  record Widened<T>(EndpointList<T> drawnFrom, EndpointList.Snapshot<T> rotation) {}

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
   * Takes an address update, before the balancer classifies its endpoints: spill measures (each
   * endpoint's unary RPCs are counted) while it is on and some endpoint is hinted for the client's
   * zone or node, the only case in which a preference can narrow the rotation. Decided here, from
   * the update alone, so that the pick results are built once per update: O(endpoints) while spill
   * is on and the client's place is known, else O(1).
   */
  void prepare(
      ZoneSpillConfig config,
      Collection<Endpoint<T>> endpoints,
      @Nullable String clientZone,
      @Nullable String clientNode) {
    this.config = config;
    boolean measure = config.enabled && anyHintedFor(endpoints, clientZone, clientNode);
    if (measure) {
      window.count(endpoints);
    } else if (measuring) {
      deactivate(); // the counts stay (a result cached on an endpoint down meanwhile feeds them)
    }
    measuring = measure;
  }

  private static <T> boolean anyHintedFor(
      Collection<Endpoint<T>> endpoints, @Nullable String clientZone, @Nullable String clientNode) {
    if (clientZone == null && clientNode == null) {
      return false;
    }
    for (Endpoint<T> endpoint : endpoints) {
      if ((clientNode != null
              && EndpointAttributes.nodeHintsOf(endpoint.group()).contains(clientNode))
          || (clientZone != null
              && EndpointAttributes.zoneHintsOf(endpoint.group()).contains(clientZone))) {
        return true;
      }
    }
    return false;
  }

  /**
   * The zone/node step of a rotation: {@code rotation} plus the endpoints spilled to, or null when
   * nothing spills (the rotation stays {@code rotation}). O(1) when nothing spills (the common
   * case) or when the ready endpoints did not change since the last call; O(ready endpoints) to
   * rebuild the widened rotation otherwise.
   *
   * @param rotation what {@link Rotation#select} chose from {@code rotationLists}, or null
   * @param snapshot {@code rotation}'s snapshot (empty when it is null)
   * @param clientZone the client's zone, or null
   */
  @Nullable
  Widened<T> widen(
      ZoneSpillConfig config,
      RotationLists<T> rotationLists,
      @Nullable EndpointList<T> rotation,
      EndpointList.Snapshot<T> snapshot,
      @Nullable String clientZone) {
    this.config = config;
    int rest = others(rotationLists, rotation, snapshot);
    if (!measuring || !config.enabled || rest <= 0) {
      deactivate(); // no preference applied (or spill is off): nothing to spill to
      return null;
    }
    this.hintedEndpoints = snapshot;
    this.othersCount = rest;
    this.clientZone = clientZone;
    if (!sampling) {
      sampling = true;
      measuredLoad = Double.NaN;
      window.reset(hintedEndpoints, spilledEndpoints);
      scheduleSample();
    }
    if (spilled == 0) {
      spilledEndpoints = List.of();
      publish();
      return null;
    }
    EndpointList<T> drawnFrom = rotationLists.admissible().ready;
    EndpointList.Snapshot<T> ready = drawnFrom.snapshot();
    // Compared with their pick results, not only their members: a config change (outlier ejection
    // turned on, say) rebuilds every result, and a widened rotation kept from before would hand
    // out the old ones until the spill changed (issue 25).
    if (widened == null
        || widenedFrom == null
        || widenedReady == null
        || !widenedFrom.sameMembersAndResults(snapshot)
        || !widenedReady.sameMembersAndResults(ready)
        || widenedSpill != spilled) {
      widened = widen(rotationLists, rotation, snapshot, ready, clientZone);
      widenedFrom = snapshot;
      widenedReady = ready;
      widenedSpill = spilled;
    }
    publish();
    return new Widened<>(drawnFrom, widened);
  }

  /** The ready endpoints a preference left out of the rotation (0 when none applied). */
  private static <T> int others(
      RotationLists<T> rotationLists,
      @Nullable EndpointList<T> rotation,
      EndpointList.Snapshot<T> snapshot) {
    RotationLists.AdmissionLists<T> lists = rotationLists.admissible();
    boolean narrowed =
        rotation != null
            && !snapshot.isEmpty()
            && (rotation == lists.sameZone || rotation == lists.sameNode);
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
        && Double.compare(current.status.projectedLoad, measuredLoad) == 0
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

  private EndpointList.Snapshot<T> widen(
      RotationLists<T> rotationLists,
      @Nullable EndpointList<T> rotation,
      EndpointList.Snapshot<T> snapshot,
      EndpointList.Snapshot<T> ready,
      @Nullable String clientZone) {
    List<Integer> rest = new ArrayList<>(ready.size() - snapshot.size());
    for (int i = 0; i < ready.size(); i++) {
      if (!rotationLists.isMember(ready.get(i), rotation)) {
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

  /** Whether the measurement window runs: a preference applies and spill is on. */
  boolean isActive() {
    return sampling;
  }

  /** Whether unary RPCs are counted ({@link #prepare}): spill is on and a hint names the client. */
  boolean measures() {
    return measuring;
  }

  /** How many endpoints outside the preference are in the rotation. */
  int spilled() {
    return spilled;
  }

  /** Where {@code endpoint}'s unary RPCs are counted, or null while spill does not measure. */
  @Nullable
  SpillCounter counter(Endpoint<T> endpoint) {
    return measuring ? window.counter(endpoint) : null;
  }

  /** The endpoints were cleared, or the balancer shut down. */
  void stop() {
    deactivate();
    measuring = false;
  }

  private void deactivate() {
    sampling = false;
    spilled = 0;
    hintedEndpoints = List.of();
    othersCount = 0;
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
    if (window.sample(hintedEndpoints) >= SAMPLES) {
      decide();
    }
    if (sampling && timer == null) {
      scheduleSample();
    }
  }

  private void decide() {
    long hintedCompleted = window.completed(hintedEndpoints);
    long spilledCompleted = window.completed(spilledEndpoints);
    double load = window.meanInFlight() / hintedEndpoints.size();
    double projected;
    if (hintedCompleted > 0) {
      projected = load * (hintedCompleted + spilledCompleted) / hintedCompleted;
    } else if (spilledCompleted == 0) {
      projected = load; // no traffic done: only what is stuck in flight counts
    } else {
      return; // all traffic went elsewhere: no hinted latency to project from, hold
    }
    measuredLoad = projected;
    int atLeast = needed(projected, config.highLoad);
    int atMost = needed(projected, config.lowLoad);
    int next = Math.min(othersCount, Math.max(atLeast, Math.min(spilled, atMost)));
    if (next != spilled) {
      spilled = next;
      onChange.run();
      window.reset(hintedEndpoints, spilledEndpoints); // the new spill set's window starts now
    }
    publish();
  }

  /** Others needed for the hinted endpoints' share of {@code projected} to be at most target. */
  private int needed(double projected, double target) {
    if (projected <= target) {
      return 0;
    }
    double exact = hintedEndpoints.size() * (projected / target - 1);
    return (int) Math.min(Integer.MAX_VALUE, Math.ceil(exact - 1e-9));
  }
}
