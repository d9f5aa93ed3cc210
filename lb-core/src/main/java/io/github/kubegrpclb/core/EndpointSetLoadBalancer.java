package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.CONNECTING;
import static io.grpc.ConnectivityState.IDLE;
import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;

import io.grpc.ConnectivityState;
import io.grpc.ConnectivityStateInfo;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.Status;
import java.util.List;
import java.util.Objects;
import java.util.function.IntUnaryOperator;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import javax.annotation.Nullable;

/**
 * The one balancer both of this library's policies run in: one subchannel per endpoint (address
 * group), diffed on every address update so unchanged endpoints keep their connection, and the
 * channel state aggregated as grpc-java's round_robin does (READY if any endpoint is; else
 * CONNECTING while any connects; else a sticky TRANSIENT_FAILURE). The policy, a {@link
 * BalancingPolicy} strategy, supplies its per-endpoint state, its tracers and the picker over the
 * endpoints in rotation. Outlier ejection ({@link OutlierEjection}) takes failing endpoints out of
 * that rotation for both policies, and slow start ({@link SlowStartConfig}) ramps the weight
 * ({@link SlowStart#weight}) of endpoints that join ones already serving. The endpoints are kept
 * classified for the rotation ({@link RotationLists}): a subchannel state change costs O(1), an
 * address update O(n).
 *
 * <p>Not thread-safe: grpc-java calls every method in the channel's SynchronizationContext, and
 * subchannel state callbacks arrive there too. Pickers never see this object.
 *
 * @param <T> per-endpoint policy state that outlives pickers
 */
final class EndpointSetLoadBalancer<T> extends LoadBalancer {
  private final Helper helper;
  private final BalancingPolicy<T> policy;
  private final String policyName;
  private final EndpointSet<T> endpoints;
  private final OutlierEjection outlierEjection;
  private final ZoneSpill<T> zoneSpill;
  private final RotationLists<T> rotationLists;
  // Whether the classification must be rebuilt (an address update, an ejection, a config): state
  // changes alone update it one endpoint at a time.
  private boolean listsStale = true;
  private final SlowStart<T> slowStart;
  // The resolver's note on the latest endpoint set, added to the status when every one failed.
  @Nullable private String resolutionNote;
  // The endpoint a TRANSIENT_FAILURE picker names; kept while it stays failed; null before the
  // first failure and after the endpoints were cleared.
  @Nullable private Endpoint<T> lastFailed;
  // The client's zone and node from the latest address update; null when unknown.
  @Nullable private String clientZone;
  @Nullable private String clientNode;
  private boolean updatePending;
  private boolean shutdown;

  // What was last published to the channel; null until the first picker.
  @Nullable private ConnectivityState currentState;
  @Nullable private SubchannelPicker currentPicker;
  private final BalancerPublisher<T> observer;
  private final StreamRebalancer<T> streamRebalancer;

  /**
   * @param nanoClock monotonic nanoseconds for the stages' timers, {@link System#nanoTime} outside
   *     tests
   * @param random returns a uniform int in {@code [0, bound)}: the stream rebalancer's jitter
   * @param prober probes ejected endpoints before re-admission
   * @param hostname this pod's name (read when first needed): the client's identity for subsetting
   *     without a configured client index and for zone spill's order
   */
  EndpointSetLoadBalancer(
      Helper helper,
      BalancingPolicy<T> policy,
      LongSupplier nanoClock,
      IntUnaryOperator random,
      OutlierEjection.Prober prober,
      Supplier<String> hostname) {
    this.helper = Objects.requireNonNull(helper, "helper");
    this.policy = policy;
    this.policyName = policy.name();
    this.endpoints = new EndpointSet<>(policyName, helper.getChannelLogger(), hostname);
    this.outlierEjection =
        new OutlierEjection(
            helper.getSynchronizationContext(),
            helper.getScheduledExecutorService(),
            nanoClock,
            prober,
            () -> {
              listsStale = true;
              updateBalancingState();
            },
            this::readmitted);
    this.zoneSpill =
        new ZoneSpill<>(
            helper.getSynchronizationContext(),
            helper.getScheduledExecutorService(),
            () -> hostname.get().hashCode(),
            this::updateBalancingState);
    this.observer =
        new BalancerPublisher<>(helper, policyName, policy::liveLoad, zoneSpill::published);
    PickResults<T> pickResults =
        new PickResults<>(
            policy,
            zoneSpill,
            observer::isRecording,
            observer::telemetry,
            outlierEjection::outcomes,
            nanoClock);
    this.rotationLists = new RotationLists<>(pickResults, outlierEjection::isEjected);
    this.slowStart =
        new SlowStart<>(
            helper.getSynchronizationContext(),
            helper.getScheduledExecutorService(),
            nanoClock,
            this::updateBalancingState);
    this.streamRebalancer =
        new StreamRebalancer<>(
            helper.getSynchronizationContext(),
            helper.getScheduledExecutorService(),
            nanoClock,
            random,
            policyName,
            helper.getChannelLogger(),
            observer::streamsEnded,
            slowStart::weight);
    observer.stageViews(
        outlierEjection::isEjected, slowStart::weight, streamRebalancer::openStreams);
  }

  private void readmitted(Endpoint<?> readmitted) {
    if (endpoints.isCurrent(readmitted)) {
      @SuppressWarnings("unchecked") // one of this balancer's endpoints
      Endpoint<T> endpoint = (Endpoint<T>) readmitted;
      policy.forget(endpoint.policyState());
    }
  }

  @Override
  public Status acceptResolvedAddresses(ResolvedAddresses resolvedAddresses) {
    observer.configure(resolvedAddresses.getAttributes());
    List<EquivalentAddressGroup> groups = resolvedAddresses.getAddresses();
    if (groups.isEmpty()) {
      String note = resolvedAddresses.getAttributes().get(EndpointAttributes.RESOLUTION_NOTE);
      FailurePicker picker = FailurePicker.noEndpoints(policyName, helper.getAuthority(), note);
      updateState(TRANSIENT_FAILURE, picker);
      streamRebalancer.shutdown(); // forgets the endpoints below; the next set starts afresh
      shutdownEndpoints();
      outlierEjection.stop();
      zoneSpill.stop();
      return picker.status();
    }
    policy.configure(resolvedAddresses.getLoadBalancingPolicyConfig());
    BalancerConfig config = policy.balancerConfig();
    // A note on a set with endpoints (e.g. the pod-port trap) explains failures to connect.
    resolutionNote = resolvedAddresses.getAttributes().get(EndpointAttributes.RESOLUTION_NOTE);
    clientZone = resolvedAddresses.getAttributes().get(EndpointAttributes.CLIENT_ZONE);
    clientNode = resolvedAddresses.getAttributes().get(EndpointAttributes.CLIENT_NODE);

    EndpointSet.Diff<T> diff =
        endpoints.update(
            groups, config.subsetting(), resolvedAddresses.getAttributes(), this::addEndpoint);
    List<Endpoint<T>> added = diff.added();
    List<Endpoint<T>> removed = diff.removed();
    observer.endpointsChanged(endpoints.all());
    streamRebalancer.update(config.streamRebalancing(), endpoints.all(), added, removed);
    // The stages that count RPCs create their per-endpoint state before the lists are rebuilt;
    // ejection's update may publish at once (it readmits every endpoint when turned off).
    zoneSpill.prepare(config.zoneSpill(), endpoints.all(), clientZone, clientNode);
    outlierEjection.update(config.outlierEjection(), endpoints.all());
    listsStale = true;
    updateBalancingState();
    // Shut down after publishing (as grpc-java's MultiChildLoadBalancer), so no RPC picks a
    // subchannel already shut down; connect after, so a synchronous state callback sees a
    // consistent balancer.
    for (Endpoint<T> endpoint : removed) {
      shutdown(endpoint);
    }
    for (Endpoint<T> endpoint : added) {
      endpoint.subchannel().requestConnection();
    }
    return Status.OK;
  }

  /** Shuts a removed endpoint down; the stages that keep state for it forget it. */
  private void shutdown(Endpoint<T> endpoint) {
    outlierEjection.forget(endpoint);
    observer.removed(endpoint);
    endpoint.shutdown();
  }

  private Endpoint<T> addEndpoint(EquivalentAddressGroup group) {
    Subchannel subchannel =
        helper.createSubchannel(CreateSubchannelArgs.newBuilder().setAddresses(group).build());
    Endpoint<T> endpoint = new Endpoint<>(subchannel, group, policy.newState());
    slowStart.added(endpoint, currentState == READY);
    observer.added(endpoint);
    endpoints.put(endpoint);
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
    slowStart.stateChanged(
        endpoint, before, state, policy.balancerConfig().slowStart(), rotationLists.connected());
    endpoint.onSubchannelState(state, stateInfo.getStatus());
    if (state == READY && before == TRANSIENT_FAILURE) { // reconnected: maybe a restarted pod
      outlierEjection.reconnected(endpoint);
      policy.forget(endpoint.policyState());
    }
    if (endpoint.state() == TRANSIENT_FAILURE && !endpoints.isFailed(lastFailed)) {
      lastFailed = endpoint;
    }
    rotationLists.update(endpoint);
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
   * A rebuild itself is O(1) for a state change (RotationLists keeps the rotation's arrays up
   * to date; a picker reads them without copying), so changes that arrive one drain at a time, as
   * connections complete one by one, cost O(1) each too.
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

  /** The slow start stage (for tests and diagnostics). */
  SlowStart<T> slowStart() {
    return slowStart;
  }

  /** The policy (for tests and diagnostics). */
  BalancingPolicy<T> policy() {
    return policy;
  }

  /** The outlier ejection stage (for tests and diagnostics). */
  OutlierEjection outlierEjection() {
    return outlierEjection;
  }

  /** The zone spill controller (for tests and diagnostics). */
  ZoneSpill<T> zoneSpill() {
    return zoneSpill;
  }

  /** The endpoint whose subchannel is {@code subchannel}, or null (for tests and diagnostics). */
  @Nullable
  Endpoint<T> endpointFor(Subchannel subchannel) {
    return endpoints.find(subchannel);
  }

  /** The policy's state of the endpoint whose subchannel is {@code subchannel} (for tests). */
  T policyStateOf(Subchannel subchannel) {
    return Objects.requireNonNull(endpointFor(subchannel), "not this balancer's subchannel")
        .policyState();
  }

  @Override
  public void handleNameResolutionError(Status error) {
    if (currentState == READY) {
      return; // keep serving from the last good endpoint set
    }
    updateState(
        TRANSIENT_FAILURE,
        FailurePicker.resolutionFailed(policyName, helper.getAuthority(), error));
  }

  @Override
  public void requestConnection() {
    for (Endpoint<T> endpoint : endpoints.all()) {
      if (endpoint.state() == IDLE) {
        endpoint.subchannel().requestConnection();
      }
    }
  }

  @Override
  public void shutdown() {
    shutdown = true;
    outlierEjection.stop();
    zoneSpill.stop();
    slowStart.stop();
    streamRebalancer.shutdown();
    shutdownEndpoints();
    observer.shutdown();
  }

  private void rebuildLists() {
    listsStale = false;
    rotationLists.rebuild(endpoints.all(), endpoints.size(), clientZone, clientNode);
    slowStart.retain(endpoints::isCurrent);
  }

  private void shutdownEndpoints() {
    for (Endpoint<T> endpoint : endpoints.clear()) {
      shutdown(endpoint);
    }
    observer.endpointsChanged(endpoints.all());
    rotationLists.rebuild(List.of(), 0, clientZone, clientNode);
    slowStart.clear();
    lastFailed = null;
  }

  private void updateBalancingState() {
    updatePending = false;
    if (listsStale) {
      rebuildLists();
    }
    EndpointList<T> rotation = Rotation.select(rotationLists, clientZone, clientNode);
    EndpointList.Snapshot<T> snapshot =
        rotation == null ? EndpointList.Snapshot.empty() : rotation.snapshot();
    // The zone/node step: past the static hints, spill to others while the hinted ones are loaded.
    BalancerConfig config = policy.balancerConfig();
    ZoneSpill.Widened<T> widened =
        zoneSpill.widen(config.zoneSpill(), rotationLists, rotation, snapshot, clientZone);
    if (widened != null) {
      rotation = widened.drawnFrom();
      snapshot = widened.rotation();
    }
    observer.rotationChanged(snapshot, clientZone);
    if (!snapshot.isEmpty()) {
      EndpointList<T> members = rotation;
      double[] weights =
          slowStart.weights(
              config.slowStart(), endpoint -> rotationLists.isMember(endpoint, members), snapshot);
      SubchannelPicker picker = policy.picker(snapshot, weights, zoneSpill.measures());
      updateState(READY, streamRebalancer.wrap(picker, snapshot, weights));
    } else if (rotationLists.connecting() > 0) {
      updateState(CONNECTING, BufferPicker.INSTANCE);
    } else if (rotationLists.failed() > 0) {
      lastFailed = endpoints.failedToName(lastFailed);
      updateState(
          TRANSIENT_FAILURE,
          FailurePicker.allFailed(
              policyName,
              helper.getAuthority(),
              rotationLists.failed(),
              endpoints.size(),
              // Set just above: candidates counted an endpoint in TRANSIENT_FAILURE.
              Objects.requireNonNull(lastFailed, "lastFailed"),
              resolutionNote));
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
}
