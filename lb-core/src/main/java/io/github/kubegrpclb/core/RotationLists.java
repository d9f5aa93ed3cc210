package io.github.kubegrpclb.core;

import io.grpc.Attributes;
import io.grpc.LoadBalancer.PickResult;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import javax.annotation.Nullable;

/**
 * A balancer's endpoints, classified by everything {@link Rotation} decides on and kept up to date
 * one endpoint at a time, so that a subchannel state change costs O(1) bookkeeping (plus one array
 * copy when a connected endpoint leaves a list a published picker reads) instead of a pass over
 * every endpoint. Connected endpoints sit in {@link EndpointList}s per {@link AdmissionLists}
 * (admitted, or ejected by outlier ejection), split by condition and by locality to the client; the
 * others are counted (connecting, connecting with condition READY, failed).
 *
 * <p>An endpoint's classification depends on its state, its ejection flag, its condition and hints
 * and the client's zone and node: {@link #update} follows a state change; everything else (address
 * updates, ejections, policy configs) goes through {@link #rebuild}, which keeps the members' order
 * so that an unchanged endpoint set yields equal pickers. Not thread-safe: used in the balancer's
 * SynchronizationContext.
 *
 * @param <T> the policy's per-endpoint state
 */
final class RotationLists<T> {
  // Classification bits, recorded per endpoint (Classified.bits) so that it is undone exactly as it
  // was done, whatever changed on the endpoint since.
  private static final int CONNECTING = 1; // IDLE or CONNECTING
  private static final int READY_CONNECTING = 1 << 1; // ... with condition READY
  private static final int FAILED = 1 << 2; // TRANSIENT_FAILURE (sticky)
  private static final int CONNECTED_READY = 1 << 3; // READY, condition READY
  private static final int CONNECTED_SERVING = 1 << 4; // READY, terminating but serving
  private static final int EJECTED = 1 << 5;
  private static final int SAME_NODE = 1 << 6; // CONNECTED_READY, hinted for the client's node
  private static final int SAME_ZONE = 1 << 7; // CONNECTED_READY, hinted for the client's zone
  private static final int NO_NODE_HINTS = 1 << 8; // CONNECTED_READY, client node known, no hints
  private static final int NO_ZONE_HINTS = 1 << 9; // CONNECTED_READY, client zone known, no hints

  /** Connected endpoints of one admission state, split as the serving and topology rules need. */
  static final class AdmissionLists<T> {
    /** Condition READY. */
    final EndpointList<T> ready;

    /** Terminating but serving: the fallback when no READY one is connected. */
    final EndpointList<T> serving;

    /** Of {@link #ready}, those hinted for the client's node (empty when it is unknown). */
    final EndpointList<T> sameNode;

    /** Of {@link #ready}, those hinted for the client's zone (empty when it is unknown). */
    final EndpointList<T> sameZone;

    private int readyWithoutNodeHints;
    private int readyWithoutZoneHints;

    AdmissionLists(int capacity) {
      ready = new EndpointList<>(capacity);
      serving = new EndpointList<>(4);
      sameNode = new EndpointList<>(4);
      sameZone = new EndpointList<>(4);
    }

    boolean isEmpty() {
      return ready.isEmpty() && serving.isEmpty();
    }

    /**
     * Whether every endpoint in {@link #ready} carries node hints (kube-proxy's rule); counted only
     * while the client's node is known.
     */
    boolean everyReadyHasNodeHints() {
      return readyWithoutNodeHints == 0;
    }

    /**
     * Whether every endpoint in {@link #ready} carries zone hints (kube-proxy's rule); counted only
     * while the client's zone is known.
     */
    boolean everyReadyHasZoneHints() {
      return readyWithoutZoneHints == 0;
    }
  }

  /**
   * How an endpoint is counted and listed, a mark for the rebuilds, and the results its lists carry
   * (built once per {@link PickResults#key}).
   */
  private static final class Classified {
    int bits;
    long mark;
    @Nullable Object resultsKey; // what results were built for; null until they are
    @Nullable PickResult[] results;
  }

  // Each live endpoint's classification, kept on the endpoint (created on first sight, and only
  // read or written by this class).
  private static final Endpoint.Slot<Classified> CLASSIFIED = Endpoint.Slot.of(Classified.class);
  private final PickResults<T> pickResults;
  private final Predicate<Endpoint<T>> isEjected;
  private AdmissionLists<T> admitted = new AdmissionLists<>(4);
  private AdmissionLists<T> ejected = new AdmissionLists<>(4);
  @Nullable private String clientZone; // as of the last rebuild; null when unknown
  @Nullable private String clientNode; // as of the last rebuild; null when unknown
  private int connecting;
  private int readyConnecting;
  private int failed;
  private long generation;

  /**
   * @param pickResults builds the {unary, stream} results pickers hand out for an endpoint
   * @param isEjected whether outlier ejection took an endpoint out (admission)
   */
  RotationLists(PickResults<T> pickResults, Predicate<Endpoint<T>> isEjected) {
    this.pickResults = pickResults;
    this.isEjected = isEjected;
  }

  /** Admitted connected endpoints (not ejected). */
  AdmissionLists<T> admitted() {
    return admitted;
  }

  /** Connected endpoints ejected by outlier ejection. */
  AdmissionLists<T> ejected() {
    return ejected;
  }

  /**
   * The lists a rotation is drawn from: the admitted endpoints, or the ejected ones when every
   * connected endpoint is ejected (the panic threshold keeps some admitted; should a config change
   * eject them all anyway, all of them are used rather than none).
   */
  AdmissionLists<T> admissible() {
    return admitted.isEmpty() ? ejected : admitted;
  }

  /** Endpoints IDLE or CONNECTING. */
  int connecting() {
    return connecting;
  }

  /** Whether an endpoint with condition READY is IDLE or CONNECTING. */
  boolean anyReadyConnecting() {
    return readyConnecting > 0;
  }

  /** Endpoints in (sticky) TRANSIENT_FAILURE. */
  int failed() {
    return failed;
  }

  /** Endpoints whose subchannel is READY, admitted or not. */
  int connected() {
    return admitted.ready.size()
        + admitted.serving.size()
        + ejected.ready.size()
        + ejected.serving.size();
  }

  /**
   * Classifies {@code live} afresh, for the client's zone and node (each null when unknown): O(n).
   * Endpoints that were connected keep their relative order; the others follow in {@code live}'s.
   */
  void rebuild(
      Iterable<Endpoint<T>> live,
      int count,
      @Nullable String clientZone,
      @Nullable String clientNode) {
    this.clientZone = clientZone;
    this.clientNode = clientNode;
    long liveMark = ++generation;
    long doneMark = ++generation;
    for (Endpoint<T> endpoint : live) {
      classifiedOf(endpoint).mark = liveMark;
    }
    AdmissionLists<T> oldAdmitted = admitted;
    AdmissionLists<T> oldEjected = ejected;
    admitted = new AdmissionLists<>(count);
    ejected = new AdmissionLists<>(4);
    connecting = 0;
    readyConnecting = 0;
    failed = 0;
    for (AdmissionLists<T> lists : List.of(oldAdmitted, oldEjected)) {
      readd(lists.ready.snapshot(), liveMark, doneMark);
      readd(lists.serving.snapshot(), liveMark, doneMark);
    }
    for (Endpoint<T> endpoint : live) {
      Classified entry = classifiedOf(endpoint);
      if (entry.mark == liveMark) {
        entry.mark = doneMark;
        record(endpoint, entry, classify(endpoint));
      }
    }
  }

  private Classified classifiedOf(Endpoint<T> endpoint) {
    Classified entry = endpoint.get(CLASSIFIED);
    if (entry == null) {
      entry = new Classified();
      endpoint.set(CLASSIFIED, entry);
    }
    return entry;
  }

  private void readd(EndpointList.Snapshot<T> members, long liveMark, long doneMark) {
    for (Endpoint<T> endpoint : members) {
      Classified entry = endpoint.get(CLASSIFIED);
      if (entry != null && entry.mark == liveMark) {
        entry.mark = doneMark;
        record(endpoint, entry, classify(endpoint));
      }
    }
  }

  /**
   * Reclassifies {@code endpoint} after its state changed: O(1), plus one array copy per list it
   * leaves that a picker reads.
   */
  void update(Endpoint<T> endpoint) {
    Classified entry = classifiedOf(endpoint);
    int bits = classify(endpoint);
    if (bits != entry.bits) {
      unrecord(endpoint, entry);
      record(endpoint, entry, bits);
    }
  }

  /**
   * Whether {@code endpoint} is a member of {@code list} (false for null: no list), in O(1). A
   * removed endpoint keeps its last classification until it is garbage: ask only of live ones.
   */
  boolean isMember(Endpoint<T> endpoint, @Nullable EndpointList<T> list) {
    Classified entry = endpoint.get(CLASSIFIED);
    int bits = entry == null ? 0 : entry.bits;
    AdmissionLists<T> lists = (bits & EJECTED) != 0 ? ejected : admitted;
    return ((bits & CONNECTED_READY) != 0 && list == lists.ready)
        || ((bits & CONNECTED_SERVING) != 0 && list == lists.serving)
        || ((bits & SAME_NODE) != 0 && list == lists.sameNode)
        || ((bits & SAME_ZONE) != 0 && list == lists.sameZone);
  }

  private int classify(Endpoint<T> endpoint) {
    boolean readyCondition = endpoint.condition() == EndpointCondition.READY;
    boolean out = isEjected.test(endpoint);
    switch (endpoint.state()) {
      case READY -> {
        if (!readyCondition) {
          return CONNECTED_SERVING | (out ? EJECTED : 0);
        }
        // Hints matter only for a client whose place is known (a change of place rebuilds).
        int bits = CONNECTED_READY | (out ? EJECTED : 0);
        Attributes attributes = endpoint.group().getAttributes();
        if (clientNode != null) {
          Set<String> hints = attributes.get(EndpointAttributes.NODE_HINTS);
          bits |= hints == null || hints.isEmpty() ? NO_NODE_HINTS : 0;
          bits |= hints != null && hints.contains(clientNode) ? SAME_NODE : 0;
        }
        if (clientZone != null) {
          Set<String> hints = attributes.get(EndpointAttributes.ZONE_HINTS);
          bits |= hints == null || hints.isEmpty() ? NO_ZONE_HINTS : 0;
          bits |= hints != null && hints.contains(clientZone) ? SAME_ZONE : 0;
        }
        return bits;
      }
      case IDLE, CONNECTING -> {
        return CONNECTING | (readyCondition ? READY_CONNECTING : 0);
      }
      case TRANSIENT_FAILURE -> {
        return FAILED;
      }
      default -> {
        return 0; // SHUTDOWN: never recorded by a live endpoint
      }
    }
  }

  private void record(Endpoint<T> endpoint, Classified entry, int bits) {
    entry.bits = bits;
    connecting += bits & CONNECTING;
    readyConnecting += (bits & READY_CONNECTING) != 0 ? 1 : 0;
    failed += (bits & FAILED) != 0 ? 1 : 0;
    if ((bits & (CONNECTED_READY | CONNECTED_SERVING)) == 0) {
      return;
    }
    AdmissionLists<T> lists = (bits & EJECTED) != 0 ? ejected : admitted;
    Object key = pickResults.key();
    PickResult[] results = entry.results;
    if (entry.resultsKey != key || results == null) {
      results = pickResults.build(endpoint);
      entry.results = results;
      entry.resultsKey = key;
    }
    if ((bits & CONNECTED_SERVING) != 0) {
      lists.serving.add(endpoint, results);
      return;
    }
    lists.ready.add(endpoint, results);
    if ((bits & SAME_NODE) != 0) {
      lists.sameNode.add(endpoint, results);
    }
    if ((bits & SAME_ZONE) != 0) {
      lists.sameZone.add(endpoint, results);
    }
    lists.readyWithoutNodeHints += (bits & NO_NODE_HINTS) != 0 ? 1 : 0;
    lists.readyWithoutZoneHints += (bits & NO_ZONE_HINTS) != 0 ? 1 : 0;
  }

  private void unrecord(Endpoint<T> endpoint, Classified entry) {
    int bits = entry.bits;
    entry.bits = 0;
    connecting -= bits & CONNECTING;
    readyConnecting -= (bits & READY_CONNECTING) != 0 ? 1 : 0;
    failed -= (bits & FAILED) != 0 ? 1 : 0;
    if ((bits & (CONNECTED_READY | CONNECTED_SERVING)) == 0) {
      return;
    }
    AdmissionLists<T> lists = (bits & EJECTED) != 0 ? ejected : admitted;
    if ((bits & CONNECTED_SERVING) != 0) {
      lists.serving.remove(endpoint);
      return;
    }
    lists.ready.remove(endpoint);
    if ((bits & SAME_NODE) != 0) {
      lists.sameNode.remove(endpoint);
    }
    if ((bits & SAME_ZONE) != 0) {
      lists.sameZone.remove(endpoint);
    }
    lists.readyWithoutNodeHints -= (bits & NO_NODE_HINTS) != 0 ? 1 : 0;
    lists.readyWithoutZoneHints -= (bits & NO_ZONE_HINTS) != 0 ? 1 : 0;
  }
}
