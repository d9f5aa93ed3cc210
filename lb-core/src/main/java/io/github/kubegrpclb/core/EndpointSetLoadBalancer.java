package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.CONNECTING;
import static io.grpc.ConnectivityState.IDLE;
import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;

import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.ConnectivityState;
import io.grpc.ConnectivityStateInfo;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.Status;
import io.grpc.SynchronizationContext;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The connection management both of this library's policies share: one subchannel per endpoint
 * (address group), diffed on every address update so unchanged endpoints keep their connection, and
 * the channel state aggregated as grpc-java's round_robin does (READY if any endpoint is; else
 * CONNECTING while any connects; else a sticky TRANSIENT_FAILURE). Subclasses only build the picker
 * over the endpoints in rotation. Outlier ejection ({@link OutlierEjection}) takes failing
 * endpoints out of that rotation for both policies, and slow start ({@link SlowStartConfig}) ramps
 * the weight ({@code Endpoint.weight}) of endpoints that join ones already serving.
 *
 * <p>Not thread-safe: grpc-java calls every method in the channel's SynchronizationContext, and
 * subchannel state callbacks arrive there too. Pickers never see this object.
 *
 * @param <T> per-endpoint policy state that outlives pickers
 */
abstract class EndpointSetLoadBalancer<T> extends LoadBalancer {
  private final Helper helper;
  private final String policyName;
  private final Map<List<SocketAddress>, Endpoint<T>> endpoints = new LinkedHashMap<>();
  private final OutlierEjection outlierEjection;
  private final LongSupplier nanoClock;
  private SynchronizationContext.ScheduledHandle rampTimer;
  private String clientZone;
  private String clientNode;
  private ClientIndex clientIndex;
  private boolean updatePending;
  private boolean shutdown;

  /** This pod's name, for subsetting without a configured client index; tests replace it. */
  Supplier<String> hostname = ClientIndex::systemHostname;

  private ConnectivityState currentState;
  private SubchannelPicker currentPicker;
  private final BalancerObserver<T> observer;

  EndpointSetLoadBalancer(
      Helper helper, String policyName, LongSupplier nanoClock, OutlierEjection.Prober prober) {
    this.helper = Objects.requireNonNull(helper, "helper");
    this.policyName = policyName;
    this.nanoClock = nanoClock;
    this.outlierEjection =
        new OutlierEjection(
            helper.getSynchronizationContext(),
            helper.getScheduledExecutorService(),
            prober,
            this::updateBalancingState);
    this.observer = new BalancerObserver<>(helper, policyName, this::liveLoad);
  }

  /** The policy's live load numbers of an endpoint, for snapshots and gauges; any thread. */
  BalancerObserver.Load liveLoad(T policyState) {
    return BalancerObserver.Load.NONE;
  }

  /** Whether RPCs are recorded: a picker without a stream tracer of its own then adds one. */
  final boolean isRecordingRpcs() {
    return observer.isRecording();
  }

  /** Returns fresh policy state for a newly added endpoint. */
  abstract T newPolicyState();

  /**
   * Takes the policy config of an update, already validated by the provider; null when the policy
   * was chosen by name only.
   */
  abstract void configure(Object policyConfig);

  /** The outlier ejection options of the config last {@linkplain #configure configured}. */
  abstract OutlierEjectionConfig outlierEjectionConfig();

  /** The subsetting options of the config last {@linkplain #configure configured}. */
  abstract SubsettingConfig subsettingConfig();

  /** The slow start options of the config last {@linkplain #configure configured}. */
  abstract SlowStartConfig slowStartConfig();

  /**
   * Called when an endpoint's connection is READY again after a failure: a new connection, maybe to
   * a restarted pod, so history kept for the old one may no longer hold.
   */
  void onReconnected(Endpoint<T> endpoint) {}

  /** Returns a picker over {@code rotation}, which is non-empty. */
  abstract SubchannelPicker readyPicker(List<Endpoint<T>> rotation);

  @Override
  public Status acceptResolvedAddresses(ResolvedAddresses resolvedAddresses) {
    observer.configure(resolvedAddresses.getAttributes());
    List<EquivalentAddressGroup> groups = resolvedAddresses.getAddresses();
    if (groups.isEmpty()) {
      String note = resolvedAddresses.getAttributes().get(EndpointAttributes.RESOLUTION_NOTE);
      Status status =
          Status.UNAVAILABLE.withDescription(
              policyName
                  + ": the name resolver returned no endpoints for "
                  + helper.getAuthority()
                  + (note == null ? " (no ready pod?)" : ": " + note));
      updateState(TRANSIENT_FAILURE, new ErrorPicker(status));
      shutdownEndpoints();
      outlierEjection.stop();
      return status;
    }
    configure(resolvedAddresses.getLoadBalancingPolicyConfig());
    clientZone = resolvedAddresses.getAttributes().get(EndpointAttributes.CLIENT_ZONE);
    clientNode = resolvedAddresses.getAttributes().get(EndpointAttributes.CLIENT_NODE);

    Map<List<SocketAddress>, EquivalentAddressGroup> next = new LinkedHashMap<>();
    for (EquivalentAddressGroup group : groups) {
      next.putIfAbsent(group.getAddresses(), group);
    }
    SubsettingConfig subsetting = subsettingConfig();
    if (subsetting.enabled() && next.size() > subsetting.subsetSize) {
      next = subset(next, subsetting, resolvedAddresses.getAttributes());
    }
    List<Endpoint<T>> removed = new ArrayList<>();
    Iterator<Map.Entry<List<SocketAddress>, Endpoint<T>>> it = endpoints.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<List<SocketAddress>, Endpoint<T>> entry = it.next();
      if (!next.containsKey(entry.getKey())) {
        removed.add(entry.getValue());
        it.remove();
      }
    }
    List<Endpoint<T>> added = new ArrayList<>();
    for (Map.Entry<List<SocketAddress>, EquivalentAddressGroup> entry : next.entrySet()) {
      Endpoint<T> existing = endpoints.get(entry.getKey());
      if (existing != null) {
        existing.updateGroup(entry.getValue());
      } else {
        added.add(addEndpoint(entry.getKey(), entry.getValue()));
      }
    }
    observer.endpointsChanged(endpoints.values());
    outlierEjection.update(outlierEjectionConfig(), endpoints.values());
    updateBalancingState();
    // Shut down after publishing (as grpc-java's MultiChildLoadBalancer), so no RPC picks a
    // subchannel already shut down; connect after, so a synchronous state callback sees a
    // consistent balancer.
    for (Endpoint<T> endpoint : removed) {
      endpoint.shutdown();
    }
    for (Endpoint<T> endpoint : added) {
      endpoint.subchannel().requestConnection();
    }
    return Status.OK;
  }

  private Map<List<SocketAddress>, EquivalentAddressGroup> subset(
      Map<List<SocketAddress>, EquivalentAddressGroup> all,
      SubsettingConfig config,
      Attributes resolution) {
    ClientIndex client = ClientIndex.resolve(config, resolution, hostname.get());
    if (!client.equals(clientIndex)) {
      clientIndex = client;
      helper
          .getChannelLogger()
          .log(
              ChannelLogger.ChannelLogLevel.INFO,
              "{0}: subsetting {1} endpoints as client {2}, from {3}",
              policyName,
              config.subsetSize,
              client.describe(),
              client.source());
    }
    Map<List<SocketAddress>, EquivalentAddressGroup> chosen = new LinkedHashMap<>();
    for (EquivalentAddressGroup group :
        DeterministicSubset.select(new ArrayList<>(all.values()), config.subsetSize, client)) {
      chosen.put(group.getAddresses(), group);
    }
    return chosen;
  }

  private Endpoint<T> addEndpoint(List<SocketAddress> key, EquivalentAddressGroup group) {
    Subchannel subchannel =
        helper.createSubchannel(CreateSubchannelArgs.newBuilder().setAddresses(group).build());
    Endpoint<T> endpoint = new Endpoint<>(subchannel, group, newPolicyState());
    endpoint.addedWhileServing = currentState == READY;
    observer.added(endpoint);
    endpoints.put(key, endpoint);
    subchannel.start(stateInfo -> onSubchannelState(endpoint, stateInfo));
    return endpoint;
  }

  private void onSubchannelState(Endpoint<T> endpoint, ConnectivityStateInfo stateInfo) {
    ConnectivityState state = stateInfo.getState();
    if (endpoint.isRemoved() || state == ConnectivityState.SHUTDOWN) {
      return;
    }
    if (state == IDLE) {
      endpoint.subchannel().requestConnection();
    }
    if (state == IDLE || state == TRANSIENT_FAILURE) {
      helper.refreshNameResolution();
    }
    ConnectivityState before = endpoint.state();
    boolean recovered = state == READY && before == TRANSIENT_FAILURE;
    // Slow start for an endpoint that joins endpoints already serving: added after the balancer
    // was READY, or reconnected after a failure. Not at start-up, when every endpoint is new.
    if (state == READY
        && (recovered || (endpoint.addedWhileServing && endpoint.state() != READY))
        && slowStartConfig().enabled
        && anyReady()) {
      endpoint.warmingSinceNanos = nanoClock.getAsLong();
    }
    endpoint.onSubchannelState(state, stateInfo.getStatus());
    if (recovered) {
      onReconnected(endpoint);
    }
    if (isConnecting(before) && isConnecting(endpoint.state())) {
      return; // IDLE and CONNECTING count alike: nothing a picker shows has changed
    }
    scheduleUpdate();
  }

  private static boolean isConnecting(ConnectivityState state) {
    return state == IDLE || state == CONNECTING;
  }

  /*
   * Coalescing: state changes that arrive together (the channel queues transport events while the
   * SynchronizationContext is busy) cost one picker rebuild, run at the end of the current drain.
   * 10,000 endpoints connecting at once would otherwise rebuild 10,000 pickers of up to 10,000
   * endpoints each.
   */
  private void scheduleUpdate() {
    if (updatePending) {
      return;
    }
    updatePending = true;
    helper
        .getSynchronizationContext()
        .execute(
            () -> {
              if (updatePending && !shutdown) {
                updateBalancingState();
              }
            });
  }

  /** The endpoint whose subchannel is {@code subchannel}, or null (for tests and diagnostics). */
  Endpoint<T> endpointFor(Subchannel subchannel) {
    for (Endpoint<T> endpoint : endpoints.values()) {
      if (endpoint.subchannel() == subchannel) {
        return endpoint;
      }
    }
    return null;
  }

  private boolean anyReady() {
    for (Endpoint<T> endpoint : endpoints.values()) {
      if (endpoint.state() == READY) {
        return true;
      }
    }
    return false;
  }

  /**
   * Sets each endpoint's slow-start weight for the next picker; while any endpoint ramps, schedules
   * a picker update one twentieth of the window later.
   */
  private void updateWeights(List<Endpoint<T>> rotation) {
    SlowStartConfig slowStart = slowStartConfig();
    long now = nanoClock.getAsLong();
    boolean ramping = false;
    for (Endpoint<T> endpoint : rotation) {
      double weight = 1;
      if (endpoint.warmingSinceNanos != Endpoint.NOT_WARMING) {
        weight = slowStart.enabled ? slowStart.weight(now - endpoint.warmingSinceNanos) : 1;
        if (weight >= 1) {
          endpoint.warmingSinceNanos = Endpoint.NOT_WARMING;
        }
      }
      if (endpoint.weight != weight) {
        endpoint.weight = weight; // volatile (for snapshots): written only while a ramp moves it
      }
      ramping |= weight < 1;
    }
    if (ramping && rampTimer == null) {
      rampTimer =
          helper
              .getSynchronizationContext()
              .schedule(
                  () -> {
                    rampTimer = null;
                    updateBalancingState();
                  },
                  Math.max(1, slowStart.windowNanos / 20),
                  TimeUnit.NANOSECONDS,
                  helper.getScheduledExecutorService());
    }
  }

  @Override
  public void handleNameResolutionError(Status error) {
    if (currentState == READY) {
      return; // keep serving from the last good endpoint set
    }
    updateState(
        TRANSIENT_FAILURE,
        new ErrorPicker(
            Status.UNAVAILABLE
                .withDescription(
                    policyName
                        + ": name resolution failed for "
                        + helper.getAuthority()
                        + ": "
                        + error.getCode()
                        + ": "
                        + error.getDescription())
                .withCause(error.getCause())));
  }

  @Override
  public void requestConnection() {
    for (Endpoint<T> endpoint : endpoints.values()) {
      if (endpoint.state() == IDLE) {
        endpoint.subchannel().requestConnection();
      }
    }
  }

  @Override
  public void shutdown() {
    shutdown = true;
    outlierEjection.stop();
    if (rampTimer != null) {
      rampTimer.cancel();
      rampTimer = null;
    }
    shutdownEndpoints();
    observer.shutdown();
  }

  private void shutdownEndpoints() {
    for (Endpoint<T> endpoint : endpoints.values()) {
      endpoint.shutdown();
    }
    endpoints.clear();
    observer.endpointsChanged(endpoints.values());
  }

  private void updateBalancingState() {
    updatePending = false;
    List<Endpoint<T>> connected = new ArrayList<>();
    List<Endpoint<T>> admitted = new ArrayList<>();
    boolean connecting = false;
    boolean readyConnecting = false;
    int failed = 0;
    Endpoint<T> lastFailed = null;
    for (Endpoint<T> endpoint : endpoints.values()) {
      ConnectivityState state = endpoint.state();
      if (state == READY) {
        connected.add(endpoint);
        if (!endpoint.ejected) {
          admitted.add(endpoint);
        }
      } else if (state == CONNECTING || state == IDLE) {
        connecting = true;
        readyConnecting |= endpoint.condition() == EndpointCondition.READY;
      } else if (state == TRANSIENT_FAILURE) {
        failed++;
        lastFailed = endpoint;
      }
    }
    // The panic threshold keeps some endpoints admitted; should every connected one be out
    // anyway (a config change), all of them are used rather than none.
    List<Endpoint<T>> rotation =
        Rotation.select(
            admitted.isEmpty() ? connected : admitted, readyConnecting, clientZone, clientNode);
    observer.rotationChanged(rotation, clientZone);
    if (!rotation.isEmpty()) {
      updateWeights(rotation);
      updateState(READY, readyPicker(rotation));
    } else if (connecting) {
      updateState(CONNECTING, BufferPicker.INSTANCE);
    } else if (lastFailed != null) {
      Status last = lastFailed.lastFailure();
      Status status =
          Status.UNAVAILABLE
              .withDescription(
                  policyName
                      + ": all "
                      + failed
                      + " of "
                      + endpoints.size()
                      + " endpoints of "
                      + helper.getAuthority()
                      + " failed to connect; last error from "
                      + lastFailed.group().getAddresses()
                      + ": "
                      + last.getCode()
                      + ": "
                      + last.getDescription())
              .withCause(last.getCause());
      updateState(TRANSIENT_FAILURE, new ErrorPicker(status));
    }
  }

  private void updateState(ConnectivityState state, SubchannelPicker picker) {
    if (state == currentState && picker.equals(currentPicker)) {
      return;
    }
    currentState = state;
    currentPicker = picker;
    helper.updateBalancingState(state, picker);
    observer.pickerUpdated(state, picker);
  }

  /** Holds RPCs while endpoints connect; a new picker is certain to follow. */
  static final class BufferPicker extends SubchannelPicker {
    static final BufferPicker INSTANCE = new BufferPicker();

    @Override
    public PickResult pickSubchannel(PickSubchannelArgs args) {
      return PickResult.withNoResult();
    }

    @Override
    public String toString() {
      return "BufferPicker";
    }
  }

  /** Fails RPCs (wait-for-ready RPCs keep waiting) with the status that explains why. */
  static final class ErrorPicker extends SubchannelPicker {
    private final PickResult result;

    ErrorPicker(Status status) {
      this.result = PickResult.withError(status);
    }

    @Override
    public PickResult pickSubchannel(PickSubchannelArgs args) {
      return result;
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof ErrorPicker that
          && that.result.getStatus().getCode() == result.getStatus().getCode()
          && Objects.equals(
              that.result.getStatus().getDescription(), result.getStatus().getDescription());
    }

    @Override
    public int hashCode() {
      return Objects.hash(result.getStatus().getCode(), result.getStatus().getDescription());
    }

    @Override
    public String toString() {
      return "ErrorPicker(" + result.getStatus() + ")";
    }
  }
}
