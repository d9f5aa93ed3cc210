package io.github.kubegrpclb.testing;

import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.ConnectivityState;
import io.grpc.ConnectivityStateInfo;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.SynchronizationContext;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A {@link LoadBalancer.Helper} for unit tests of balancers: a real {@link SynchronizationContext}
 * (an exception thrown in it is kept and rethrown by {@link #checkNoErrors}), subchannels whose
 * state the test delivers, and a record of every balancing state and picker published. Enforces
 * grpc-java's rules: helper calls outside the synchronization context and SHUTDOWN as a balancing
 * state throw.
 *
 * <p>Thread-safe for reads; drive the balancer through {@link #run} from the test thread.
 */
public final class FakeHelper extends LoadBalancer.Helper {
  private final AtomicReference<Throwable> syncError = new AtomicReference<>();
  private final SynchronizationContext syncContext =
      new SynchronizationContext((thread, error) -> syncError.compareAndSet(null, error));
  private final String authority;
  private final FakeClock clock = new FakeClock();
  private final List<FakeSubchannel> created = new ArrayList<>();
  private final List<ConnectivityState> states = new ArrayList<>();
  private volatile LoadBalancer.SubchannelPicker picker;
  private volatile ConnectivityState state;
  private volatile int refreshCount;

  public FakeHelper(String authority) {
    this.authority = authority;
  }

  public FakeHelper() {
    this("my-svc.my-ns.svc.cluster.local");
  }

  /** Runs {@code action} in the synchronization context, as grpc-java does for balancer calls. */
  public void run(Runnable action) {
    syncContext.execute(action);
    checkNoErrors();
  }

  /** Rethrows the first exception thrown inside the synchronization context, if any. */
  public void checkNoErrors() {
    Throwable error = syncError.getAndSet(null);
    if (error != null) {
      throw new AssertionError("uncaught in the SynchronizationContext", error);
    }
  }

  @Override
  public FakeSubchannel createSubchannel(LoadBalancer.CreateSubchannelArgs args) {
    syncContext.throwIfNotInThisSynchronizationContext();
    FakeSubchannel subchannel = new FakeSubchannel(args.getAddresses());
    synchronized (this) {
      created.add(subchannel);
    }
    return subchannel;
  }

  @Override
  public void updateBalancingState(
      ConnectivityState newState, LoadBalancer.SubchannelPicker newPicker) {
    syncContext.throwIfNotInThisSynchronizationContext();
    if (newState == ConnectivityState.SHUTDOWN) {
      throw new IllegalArgumentException("SHUTDOWN must not be passed to updateBalancingState");
    }
    synchronized (this) {
      states.add(newState);
    }
    state = newState;
    picker = newPicker;
  }

  @Override
  public void refreshNameResolution() {
    syncContext.throwIfNotInThisSynchronizationContext();
    refreshCount++;
  }

  @Override
  public ManagedChannel createOobChannel(EquivalentAddressGroup eag, String authority) {
    throw new UnsupportedOperationException("balancers under test do not use OOB channels");
  }

  @Override
  public String getAuthority() {
    return authority;
  }

  @Override
  public SynchronizationContext getSynchronizationContext() {
    return syncContext;
  }

  @Override
  public ChannelLogger getChannelLogger() {
    return NoopChannelLogger.INSTANCE;
  }

  /** A scheduler on {@link #clock()}: tasks run only when the test forwards that clock. */
  @Override
  public java.util.concurrent.ScheduledExecutorService getScheduledExecutorService() {
    return clock.scheduler();
  }

  /** The fake clock behind {@link #getScheduledExecutorService()}. */
  public FakeClock clock() {
    return clock;
  }

  /** Every subchannel created so far, in creation order. */
  public synchronized List<FakeSubchannel> createdSubchannels() {
    return List.copyOf(created);
  }

  /** Subchannels created and not yet shut down. */
  public synchronized List<FakeSubchannel> liveSubchannels() {
    List<FakeSubchannel> live = new ArrayList<>();
    for (FakeSubchannel subchannel : created) {
      if (!subchannel.isShutdown()) {
        live.add(subchannel);
      }
    }
    return live;
  }

  /** The live subchannel for {@code group}'s addresses; throws if there is none. */
  public synchronized FakeSubchannel subchannelFor(EquivalentAddressGroup group) {
    for (FakeSubchannel subchannel : created) {
      if (!subchannel.isShutdown()
          && subchannel.getAddresses().getAddresses().equals(group.getAddresses())) {
        return subchannel;
      }
    }
    throw new AssertionError("no live subchannel for " + group);
  }

  /** The last published picker, or null. */
  public LoadBalancer.SubchannelPicker picker() {
    return picker;
  }

  /** The last published balancing state, or null. */
  public ConnectivityState state() {
    return state;
  }

  /** Every balancing state published, in order. */
  public synchronized List<ConnectivityState> stateHistory() {
    return List.copyOf(states);
  }

  public int refreshCount() {
    return refreshCount;
  }

  /** A subchannel whose connectivity the test delivers with {@link #deliver}. */
  public final class FakeSubchannel extends LoadBalancer.Subchannel {
    private volatile List<EquivalentAddressGroup> addresses;
    private LoadBalancer.SubchannelStateListener listener;
    private volatile boolean shutdown;
    private volatile LoadBalancer.SubchannelPicker pickerAtShutdown;
    private volatile int connectionRequests;

    FakeSubchannel(List<EquivalentAddressGroup> addresses) {
      this.addresses = List.copyOf(addresses);
    }

    @Override
    public void start(LoadBalancer.SubchannelStateListener listener) {
      syncContext.throwIfNotInThisSynchronizationContext();
      if (this.listener != null) {
        throw new IllegalStateException("start() called twice on " + this);
      }
      this.listener = listener;
    }

    @Override
    public void shutdown() {
      syncContext.throwIfNotInThisSynchronizationContext();
      shutdown = true;
      pickerAtShutdown = picker;
    }

    @Override
    public void requestConnection() {
      syncContext.throwIfNotInThisSynchronizationContext();
      connectionRequests++;
    }

    @Override
    public List<EquivalentAddressGroup> getAllAddresses() {
      return addresses;
    }

    @Override
    public void updateAddresses(List<EquivalentAddressGroup> newAddresses) {
      syncContext.throwIfNotInThisSynchronizationContext();
      addresses = List.copyOf(newAddresses);
    }

    @Override
    public Attributes getAttributes() {
      return Attributes.EMPTY;
    }

    @Override
    public ChannelLogger getChannelLogger() {
      return NoopChannelLogger.INSTANCE;
    }

    public boolean isShutdown() {
      return shutdown;
    }

    /**
     * The channel's picker when this subchannel was shut down (null if it is live): grpc-java's
     * balancers publish a picker without a subchannel before they shut it down.
     */
    public LoadBalancer.SubchannelPicker pickerAtShutdown() {
      return pickerAtShutdown;
    }

    public int connectionRequests() {
      return connectionRequests;
    }

    /** Delivers a state to the balancer's listener, in the synchronization context. */
    public void deliver(ConnectivityState newState) {
      deliver(
          newState == ConnectivityState.TRANSIENT_FAILURE
              ? ConnectivityStateInfo.forTransientFailure(
                  Status.UNAVAILABLE.withDescription("connection refused"))
              : ConnectivityStateInfo.forNonError(newState));
    }

    /** Delivers a state with its status to the balancer's listener. */
    public void deliver(ConnectivityStateInfo info) {
      run(
          () -> {
            if (listener == null) {
              throw new IllegalStateException("state delivered before start(): " + this);
            }
            if (!shutdown) {
              listener.onSubchannelState(info);
            }
          });
    }

    @Override
    public String toString() {
      return "FakeSubchannel" + addresses;
    }
  }
}
