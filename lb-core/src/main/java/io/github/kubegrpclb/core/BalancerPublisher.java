package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.BalancerTelemetry;
import io.github.kubegrpclb.core.internal.EndpointStatus;
import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.github.kubegrpclb.core.internal.PolicyCheck;
import io.github.kubegrpclb.core.internal.Snapshots;
import io.github.kubegrpclb.core.internal.Telemetry;
import io.github.kubegrpclb.core.internal.ZoneSpillStatus;
import io.grpc.Attributes;
import io.grpc.ChannelLogger.ChannelLogLevel;
import io.grpc.ConnectivityState;
import io.grpc.LoadBalancer.Helper;
import io.grpc.LoadBalancer.SubchannelPicker;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import java.util.function.ToIntFunction;
import javax.annotation.Nullable;

/**
 * What a balancer shows the outside: its OpenTelemetry instruments and its snapshot for {@link
 * LbDebug} and the channel log. The balancer calls it in its SynchronizationContext, at O(1) cost
 * per state change (O(n) per address update); it publishes immutable references to the endpoint
 * list and the rotation, which gauges and snapshots read from other threads together with the
 * endpoints' volatile state and thread-safe load counters.
 *
 * @param <T> the policy's per-endpoint state
 */
final class BalancerPublisher<T> {
  /** An endpoint's live load numbers; {@link #NONE} for a policy that keeps none. */
  static final class Load {
    static final Load NONE = new Load(-1, Double.NaN, Double.NaN);

    final int inFlight;
    final double estimateNanos;
    final double costNanos;

    Load(int inFlight, double estimateNanos, double costNanos) {
      this.inFlight = inFlight;
      this.estimateNanos = estimateNanos;
      this.costNanos = costNanos;
    }
  }

  private final Helper helper;
  private final String policyName;
  private final String target;
  private final Function<T, Load> loadOf;
  private final Supplier<ZoneSpill.Published<T>> zoneSpill;
  private final Snapshots.Registration registration;
  private int loggedSpill;
  private BalancerTelemetry telemetry = BalancerTelemetry.NOOP;
  private boolean configured;
  private volatile List<Endpoint<T>> endpoints = List.of();
  // Each endpoint's RPC recorder, only while RPCs are recorded: set in the context, read by
  // snapshots from any thread.
  private static final Endpoint.Slot<EndpointTelemetry> RECORDER =
      Endpoint.Slot.of(EndpointTelemetry.class);
  private volatile ToIntFunction<Endpoint<T>> openStreams = endpoint -> -1;
  private volatile Predicate<Endpoint<T>> ejected = endpoint -> false;
  private volatile ToDoubleFunction<Endpoint<T>> weight = endpoint -> 1;
  private volatile View<T> view = new View<>(List.of(), ConnectivityState.IDLE, null);

  /**
   * @param zoneSpill the spill as last published (null while no preference applies), read from any
   *     thread
   */
  BalancerPublisher(
      Helper helper,
      String policyName,
      Function<T, Load> loadOf,
      Supplier<ZoneSpill.Published<T>> zoneSpill) {
    this.helper = helper;
    this.policyName = policyName;
    this.target = channelTarget(helper);
    this.loadOf = loadOf;
    this.zoneSpill = zoneSpill;
    this.registration = Snapshots.register(target, this::describe);
  }

  /** Reads the telemetry option of the first resolution result; later ones cannot change it. */
  void configure(Attributes resolutionAttributes) {
    PolicyCheck.received(resolutionAttributes);
    if (configured) {
      return;
    }
    configured = true;
    telemetry =
        Telemetry.of(resolutionAttributes.get(LbTelemetry.ATTRIBUTE))
            .balancer(target, policyName, this::statuses, this::zoneSpillStatus);
  }

  /** Whether RPCs are recorded (a policy without a tracer of its own then adds one). */
  boolean isRecording() {
    return telemetry.isRecording();
  }

  /**
   * Where the stages' views of an endpoint are read, from any thread: whether it is ejected, its
   * slow-start weight, and its open streams (-1: not counted).
   */
  void stageViews(
      Predicate<Endpoint<T>> ejected,
      ToDoubleFunction<Endpoint<T>> weight,
      ToIntFunction<Endpoint<T>> openStreams) {
    this.ejected = ejected;
    this.weight = weight;
    this.openStreams = openStreams;
  }

  /** The stream rebalancer asked {@code count} streams to move, for {@code reason}. */
  void streamsEnded(String reason, int count) {
    telemetry.streamsEnded(reason, count);
  }

  /** A new endpoint: gives it its RPC recorder while RPCs are recorded. */
  void added(Endpoint<T> endpoint) {
    if (telemetry.isRecording()) {
      endpoint.set(
          RECORDER,
          telemetry.endpoint(
              addressOf(endpoint), endpoint.group().getAttributes().get(EndpointAttributes.ZONE)));
    }
  }

  /**
   * Where {@code endpoint}'s RPCs are recorded ({@link EndpointTelemetry#NOOP} while they are not);
   * set when it was added, before any picker; any thread.
   */
  EndpointTelemetry telemetry(Endpoint<T> endpoint) {
    EndpointTelemetry recorder = endpoint.get(RECORDER);
    return recorder == null ? EndpointTelemetry.NOOP : recorder;
  }

  /** The endpoint left: its recorder frees its place under the endpoint limit. */
  void removed(Endpoint<T> endpoint) {
    EndpointTelemetry recorder = endpoint.get(RECORDER);
    if (recorder != null) {
      endpoint.set(RECORDER, null);
      recorder.close();
    }
  }

  /** The endpoint set changed (an address update, or all removed). */
  void endpointsChanged(Collection<Endpoint<T>> current) {
    endpoints = List.copyOf(current);
  }

  /**
   * The balancer recomputed its rotation, a list it never changes afterwards; logs the zone spill
   * when the number of endpoints it added changed.
   */
  void rotationChanged(List<Endpoint<T>> rotation, @Nullable String clientZone) {
    View<T> current = view;
    if (current.rotation != rotation) {
      view = new View<>(rotation, current.state, clientZone);
    }
    ZoneSpillStatus spill = zoneSpillStatus();
    int spilled = spill == null ? 0 : spill.spilled;
    if (spilled != loggedSpill) {
      loggedSpill = spilled;
      helper
          .getChannelLogger()
          .log(
              ChannelLogLevel.INFO,
              "{0}: {1}",
              policyName,
              spill == null ? "zone spill: none (no zone or node preference applies)" : spill);
    }
  }

  /** The zone spill, or null while no preference applies; any thread. */
  @Nullable
  ZoneSpillStatus zoneSpillStatus() {
    ZoneSpill.Published<T> spill = zoneSpill.get();
    return spill == null ? null : spill.status;
  }

  /** The balancer published {@code picker}: counts it and logs the new view. */
  void pickerUpdated(ConnectivityState state, SubchannelPicker picker) {
    View<T> current = view;
    view = new View<>(current.rotation, state, current.clientZone);
    telemetry.pickerUpdated(state);
    helper.getChannelLogger().log(ChannelLogLevel.DEBUG, "{0}", new Lazy(this, picker));
  }

  void shutdown() {
    registration.close();
    telemetry.close();
    endpoints = List.of();
    view = new View<>(List.of(), ConnectivityState.SHUTDOWN, null);
  }

  /** Current statuses of every endpoint; any thread. */
  List<EndpointStatus> statuses() {
    List<Endpoint<T>> all = endpoints;
    Set<Endpoint<T>> inRotation = Collections.newSetFromMap(new IdentityHashMap<>());
    inRotation.addAll(view.rotation);
    ZoneSpill.Published<T> spill = zoneSpill.get();
    List<Endpoint<T>> spilledTo = spill == null ? List.of() : spill.spilledTo;
    List<EndpointStatus> out = new ArrayList<>(all.size());
    for (Endpoint<T> endpoint : all) {
      Load load = loadOf.apply(endpoint.policyState());
      ConnectivityState state = endpoint.state();
      Status failure = endpoint.lastFailure();
      boolean inRotationNow = inRotation.contains(endpoint);
      out.add(
          new EndpointStatus(
              addressOf(endpoint),
              endpoint.group().getAttributes().get(EndpointAttributes.ZONE),
              endpoint.condition() == EndpointCondition.READY ? "ready" : "terminating_serving",
              state.name(),
              inRotationNow,
              ejected.test(endpoint),
              inRotationNow ? weight.applyAsDouble(endpoint) : Double.NaN,
              load.inFlight,
              load.estimateNanos,
              load.costNanos,
              openStreams.applyAsInt(endpoint),
              state == ConnectivityState.TRANSIENT_FAILURE && !failure.isOk()
                  ? "last-failure=" + failure.getCode() + describe(failure.getDescription())
                  : inRotationNow && contains(spilledTo, endpoint) ? "spilled" : null,
              telemetry(endpoint)));
    }
    return out;
  }

  /** The snapshot: a header line, then one line per endpoint; any thread. */
  String describe() {
    View<T> current = view;
    List<EndpointStatus> statuses = statuses();
    int inRotation = 0;
    int ramping = 0;
    for (EndpointStatus status : statuses) {
      inRotation += status.inRotation ? 1 : 0;
      ramping += status.isRamping() ? 1 : 0;
    }
    StringBuilder out =
        new StringBuilder(policyName)
            .append(" balancer for ")
            .append(target)
            .append(": ")
            .append(current.state)
            .append(", ")
            .append(statuses.size())
            .append(" endpoints, ")
            .append(inRotation)
            .append(" in rotation");
    if (ramping > 0) {
      out.append(" (").append(ramping).append(" ramping up)");
    }
    if (current.clientZone != null) {
      out.append(", client zone ").append(current.clientZone);
    }
    ZoneSpillStatus spill = zoneSpillStatus();
    if (spill != null) {
      out.append("\n  ").append(spill.describe());
    }
    for (EndpointStatus status : statuses) {
      out.append("\n  ");
      status.appendTo(out);
    }
    return out.toString();
  }

  /** Identity membership in the few endpoints spill added. */
  private static boolean contains(List<?> endpoints, Object endpoint) {
    for (Object e : endpoints) {
      if (e == endpoint) {
        return true;
      }
    }
    return false;
  }

  private static String describe(@Nullable String description) {
    return description == null ? "" : " (" + description + ")";
  }

  static String addressOf(Endpoint<?> endpoint) {
    return Snapshots.addressText(endpoint.group().getAddresses());
  }

  private static String channelTarget(Helper helper) {
    try {
      String target = helper.getChannelTarget();
      if (target != null) {
        return target;
      }
    } catch (UnsupportedOperationException e) {
      // a Helper without getChannelTarget (test doubles): the authority names it well enough
    }
    return helper.getAuthority();
  }

  private static final class View<T> {
    final List<Endpoint<T>> rotation;
    final ConnectivityState state;
    @Nullable final String clientZone; // null when unknown

    View(List<Endpoint<T>> rotation, ConnectivityState state, @Nullable String clientZone) {
      this.rotation = rotation;
      this.state = state;
      this.clientZone = clientZone;
    }
  }

  /** Renders the snapshot only if the channel logger formats the message. */
  private static final class Lazy {
    private final BalancerPublisher<?> observer;
    private final SubchannelPicker picker;

    Lazy(BalancerPublisher<?> observer, SubchannelPicker picker) {
      this.observer = observer;
      this.picker = picker;
    }

    @Override
    public String toString() {
      return observer.describe() + "\n  picker: " + picker;
    }
  }
}
