package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.CONNECTING;
import static io.grpc.ConnectivityState.IDLE;
import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
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
 * The connection management both of this library's policies share: one subchannel per endpoint
 * (address group), diffed on every address update so unchanged endpoints keep their connection, and
 * the channel state aggregated as grpc-java's round_robin does (READY if any endpoint is; else
 * CONNECTING while any connects; else a sticky TRANSIENT_FAILURE). Subclasses only build the picker
 * over the endpoints in rotation. Outlier ejection ({@link OutlierEjection}) takes failing
 * endpoints out of that rotation for both policies, and slow start ({@link SlowStartConfig}) ramps
 * the weight ({@link SlowStart#weight}) of endpoints that join ones already serving. The endpoints
 * are kept classified for the rotation ({@link RotationCandidates}): a subchannel state change
 * costs O(1), an address update O(n).
 *
 * <p>Not thread-safe: grpc-java calls every method in the channel's SynchronizationContext, and
 * subchannel state callbacks arrive there too. Pickers never see this object.
 *
 * @param <T> per-endpoint policy state that outlives pickers
 */
abstract class EndpointSetLoadBalancer<T> extends LoadBalancer {
  private final Helper helper;
  private final String policyName;
  private final EndpointSet<T> endpoints;
  private final OutlierEjection outlierEjection;
  private final ZoneSpill<T> zoneSpill;
  private final RotationCandidates<T> candidates;
  // Whether the classification must be rebuilt (an address update, an ejection, a config): state
  // changes alone update it one endpoint at a time.
  private boolean candidatesStale = true;
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
  private final BalancerObserver<T> observer;
  private final StreamRebalancer<T> streamRebalancer;
  private IntUnaryOperator streamRandom = bound -> 0;

  /**
   * @param hostname this pod's name (read when first needed): the client's identity for subsetting
   *     without a configured client index and for zone spill's order
   */
  EndpointSetLoadBalancer(
      Helper helper,
      String policyName,
      LongSupplier nanoClock,
      OutlierEjection.Prober prober,
      Supplier<String> hostname) {
    this.helper = Objects.requireNonNull(helper, "helper");
    this.policyName = policyName;
    this.endpoints = new EndpointSet<>(policyName, helper.getChannelLogger(), hostname);
    this.outlierEjection =
        new OutlierEjection(
            helper.getSynchronizationContext(),
            helper.getScheduledExecutorService(),
            nanoClock,
            prober,
            () -> {
              candidatesStale = true;
              updateBalancingState();
            },
            this::readmitted);
    this.candidates = new RotationCandidates<>(this::pickResults, outlierEjection::isEjected);
    this.zoneSpill =
        new ZoneSpill<>(
            helper.getSynchronizationContext(),
            helper.getScheduledExecutorService(),
            () -> hostname.get().hashCode(),
            this::updateBalancingState);
    this.observer =
        new BalancerObserver<>(helper, policyName, this::liveLoad, zoneSpill::published);
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
            bound -> streamRandom.applyAsInt(bound),
            policyName,
            helper.getChannelLogger(),
            observer::streamsEnded,
            slowStart::weight);
    observer.stageViews(
        outlierEjection::isEjected, slowStart::weight, streamRebalancer::openStreams);
  }

  /** The policy's randomness, for the stream rebalancer's jitter; called by constructors. */
  final void useRandom(IntUnaryOperator random) {
    this.streamRandom = random;
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
  abstract void configure(@Nullable Object policyConfig);

  /** The shared sections of the config last {@linkplain #configure configured}. */
  abstract BalancerConfig balancerConfig();

  /**
   * The key to cache an endpoint's pick results under for {@code config} (see {@link
   * Endpoint#pickResults}): it changes when zone spill starts or stops counting RPCs.
   */
  final Object resultsKey(Object config) {
    return zoneSpill.resultsKey(config);
  }

  /** Where a unary RPC on {@code endpoint} is recorded (zone spill counts them when it can act). */
  final EndpointTelemetry unaryTelemetry(Endpoint<T> endpoint) {
    return zoneSpill.unaryTelemetry(endpoint);
  }

  /** Whether zone spill counts unary RPCs, so a picker must attach a tracer to each. */
  final boolean isCountingForZoneSpill() {
    return zoneSpill.isCounting();
  }

  /**
   * Called when an endpoint's connection is READY again after a failure: a new connection, maybe to
   * a restarted pod, so history kept for the old one may no longer hold.
   */
  void onReconnected(Endpoint<T> endpoint) {}

  /**
   * Called when outlier ejection puts {@code endpoint} back in rotation on probation: a policy
   * forgets whatever would keep the endpoint from getting the RPC that ends its probation.
   */
  void onReadmitted(Endpoint<T> endpoint) {}

  private void readmitted(Endpoint<?> readmitted) {
    if (endpoints.isCurrent(readmitted)) {
      @SuppressWarnings("unchecked") // one of this balancer's endpoints
      Endpoint<T> endpoint = (Endpoint<T>) readmitted;
      onReadmitted(endpoint);
    }
  }

  /**
   * The results pickers hand out for {@code endpoint}: {unary, stream}, built once per policy
   * config ({@link Endpoint#pickResults}).
   */
  abstract PickResult[] pickResults(Endpoint<T> endpoint);

  /**
   * Returns a picker over {@code rotation}, which is non-empty; O(1) is the goal: the snapshot
   * carries the arrays a picker reads.
   *
   * @param weights slow-start weights in (0, 1], one per endpoint of {@code rotation}, or null when
   *     every weight is 1
   */
  abstract SubchannelPicker readyPicker(
      EndpointList.Snapshot<T> rotation, @Nullable double[] weights);

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
    configure(resolvedAddresses.getLoadBalancingPolicyConfig());
    // A note on a set with endpoints (e.g. the pod-port trap) explains failures to connect.
    resolutionNote = resolvedAddresses.getAttributes().get(EndpointAttributes.RESOLUTION_NOTE);
    clientZone = resolvedAddresses.getAttributes().get(EndpointAttributes.CLIENT_ZONE);
    clientNode = resolvedAddresses.getAttributes().get(EndpointAttributes.CLIENT_NODE);

    EndpointSet.Diff<T> diff =
        endpoints.update(
            groups,
            balancerConfig().subsetting(),
            resolvedAddresses.getAttributes(),
            this::addEndpoint);
    List<Endpoint<T>> added = diff.added();
    List<Endpoint<T>> removed = diff.removed();
    observer.endpointsChanged(endpoints.all());
    streamRebalancer.update(balancerConfig().streamRebalancing(), endpoints.all(), added, removed);
    candidatesStale = true;
    outlierEjection.update(balancerConfig().outlierEjection(), endpoints.all());
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
    zoneSpill.forget(endpoint);
    endpoint.shutdown();
  }

  private Endpoint<T> addEndpoint(EquivalentAddressGroup group) {
    Subchannel subchannel =
        helper.createSubchannel(CreateSubchannelArgs.newBuilder().setAddresses(group).build());
    Endpoint<T> endpoint = new Endpoint<>(subchannel, group, newPolicyState());
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
    boolean recovered = state == READY && before == TRANSIENT_FAILURE;
    // Its first connection up forgets that it was added while serving (SlowStart.firstReady).
    boolean addedWhileServing = state == READY && slowStart.firstReady(endpoint);
    boolean joined = state == READY && (recovered || (addedWhileServing && before != READY));
    if (joined && balancerConfig().slowStart().enabled) {
      slowStart.joined(endpoint, balancerConfig().slowStart(), candidates.connected());
    }
    endpoint.onSubchannelState(state, stateInfo.getStatus());
    if (recovered) {
      outlierEjection.reconnected(endpoint);
      onReconnected(endpoint);
    }
    if (endpoint.state() == TRANSIENT_FAILURE && !isFailed(lastFailed)) {
      lastFailed = endpoint;
    }
    candidates.update(endpoint);
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
   * A rebuild itself is O(1) for a state change (RotationCandidates keeps the rotation's arrays up
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

  /** The zone spill controller (for tests and diagnostics). */
  ZoneSpill<T> zoneSpill() {
    return zoneSpill;
  }

  /** The endpoint whose subchannel is {@code subchannel}, or null (for tests and diagnostics). */
  @Nullable
  Endpoint<T> endpointFor(Subchannel subchannel) {
    for (Endpoint<T> endpoint : endpoints.all()) {
      if (endpoint.subchannel() == subchannel) {
        return endpoint;
      }
    }
    return null;
  }

  /** Whether {@code endpoint} is one of this balancer's endpoints, in TRANSIENT_FAILURE. */
  private boolean isFailed(@Nullable Endpoint<T> endpoint) {
    return endpoint != null
        && endpoint.state() == TRANSIENT_FAILURE
        && endpoints.isCurrent(endpoint);
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

  private void rebuildCandidates() {
    candidatesStale = false;
    candidates.rebuild(endpoints.all(), endpoints.size(), clientZone, clientNode);
    slowStart.retain(endpoints::isCurrent);
  }

  private void shutdownEndpoints() {
    for (Endpoint<T> endpoint : endpoints.clear()) {
      shutdown(endpoint);
    }
    observer.endpointsChanged(endpoints.all());
    candidates.rebuild(List.of(), 0, clientZone, clientNode);
    slowStart.clear();
    lastFailed = null;
  }

  private void updateBalancingState() {
    updatePending = false;
    if (candidatesStale) {
      rebuildCandidates();
    }
    EndpointList<T> rotation = Rotation.select(candidates, clientZone, clientNode);
    EndpointList.Snapshot<T> snapshot =
        rotation == null ? EndpointList.Snapshot.empty() : rotation.snapshot();
    // The zone/node step: past the static hints, spill to others while the preferred are loaded.
    ZoneSpillConfig spillConfig = balancerConfig().zoneSpill();
    boolean counting = zoneSpill.applies(spillConfig, candidates, rotation, snapshot);
    if (counting != zoneSpill.isCounting()) {
      // The listed pick results must (or must no longer) count RPCs: rebuilt now, in this pass.
      zoneSpill.count(counting);
      rebuildCandidates();
      rotation = Rotation.select(candidates, clientZone, clientNode);
      snapshot = rotation == null ? EndpointList.Snapshot.empty() : rotation.snapshot();
    }
    EndpointList.Snapshot<T> widened =
        zoneSpill.widen(spillConfig, candidates, rotation, snapshot, clientZone);
    if (zoneSpill.spilling()) {
      rotation = zoneSpill.spillPool();
      snapshot = widened;
    }
    observer.rotationChanged(snapshot, clientZone);
    if (!snapshot.isEmpty()) {
      EndpointList<T> members = rotation;
      double[] weights =
          slowStart.weights(
              balancerConfig().slowStart(),
              endpoint -> candidates.isMember(endpoint, members),
              snapshot);
      updateState(READY, streamRebalancer.wrap(readyPicker(snapshot, weights), snapshot, weights));
    } else if (candidates.connecting() > 0) {
      updateState(CONNECTING, BufferPicker.INSTANCE);
    } else if (candidates.failed() > 0) {
      if (!isFailed(lastFailed)) {
        for (Endpoint<T> endpoint : endpoints.all()) {
          if (endpoint.state() == TRANSIENT_FAILURE) {
            lastFailed = endpoint; // the last in address order, as before it was kept
          }
        }
      }
      updateState(
          TRANSIENT_FAILURE,
          FailurePicker.allFailed(
              policyName,
              helper.getAuthority(),
              candidates.failed(),
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
