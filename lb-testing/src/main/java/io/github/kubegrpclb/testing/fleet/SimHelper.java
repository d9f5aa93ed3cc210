package io.github.kubegrpclb.testing.fleet;

import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.NoopChannelLogger;
import io.grpc.ChannelLogger;
import io.grpc.ConnectivityState;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.ManagedChannel;
import io.grpc.SynchronizationContext;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The channel as the balancer under simulation sees it: a real SynchronizationContext (an exception
 * in it fails the run), timers on the simulation's {@link FakeClock}, and {@link SimConnection}s
 * whose states follow the simulated network. Publishing a picker re-runs the RPCs buffered by the
 * previous one, as grpc-java's delayed transport does. Single-threaded: the simulation's thread.
 */
final class SimHelper extends LoadBalancer.Helper {
  private final AtomicReference<Throwable> syncError = new AtomicReference<>();
  private final SynchronizationContext syncContext =
      new SynchronizationContext((thread, error) -> syncError.compareAndSet(null, error));
  private final FleetSim sim;
  private final FakeClock clock;
  private final List<SimConnection> live = new ArrayList<>();
  private LoadBalancer.SubchannelPicker picker;
  private ConnectivityState state = ConnectivityState.IDLE;

  SimHelper(FleetSim sim, FakeClock clock) {
    this.sim = sim;
    this.clock = clock;
  }

  void run(Runnable action) {
    syncContext.execute(action);
    checkNoErrors();
  }

  void checkNoErrors() {
    Throwable error = syncError.getAndSet(null);
    if (error != null) {
      throw new AssertionError("uncaught in the balancer's SynchronizationContext", error);
    }
  }

  @Override
  public SimConnection createSubchannel(LoadBalancer.CreateSubchannelArgs args) {
    syncContext.throwIfNotInThisSynchronizationContext();
    List<EquivalentAddressGroup> groups = args.getAddresses();
    SimConnection connection = new SimConnection(sim, this, groups);
    live.add(connection);
    return connection;
  }

  void removed(SimConnection connection) {
    live.remove(connection);
  }

  /** Connections created and not shut down. */
  List<SimConnection> live() {
    return live;
  }

  @Override
  public void updateBalancingState(
      ConnectivityState newState, LoadBalancer.SubchannelPicker newPicker) {
    syncContext.throwIfNotInThisSynchronizationContext();
    if (newState == ConnectivityState.SHUTDOWN) {
      throw new IllegalArgumentException("SHUTDOWN must not be passed to updateBalancingState");
    }
    state = newState;
    picker = newPicker;
    sim.pickerChanged();
  }

  LoadBalancer.SubchannelPicker picker() {
    return picker;
  }

  ConnectivityState state() {
    return state;
  }

  @Override
  public void refreshNameResolution() {
    syncContext.throwIfNotInThisSynchronizationContext();
  }

  @Override
  public ManagedChannel createOobChannel(EquivalentAddressGroup eag, String authority) {
    throw new UnsupportedOperationException("the fleet simulation has no OOB channels");
  }

  @Override
  public String getAuthority() {
    return "fleet.sim.svc.cluster.local";
  }

  @Override
  public SynchronizationContext getSynchronizationContext() {
    return syncContext;
  }

  @Override
  public ScheduledExecutorService getScheduledExecutorService() {
    return clock.scheduler();
  }

  @Override
  public ChannelLogger getChannelLogger() {
    return NoopChannelLogger.INSTANCE;
  }
}
