package io.github.kubegrpclb.testing.fleet;

import static io.grpc.ConnectivityState.CONNECTING;
import static io.grpc.ConnectivityState.IDLE;
import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.SHUTDOWN;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;

import io.github.kubegrpclb.testing.NoopChannelLogger;
import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ChannelLogger;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ConnectivityStateInfo;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A simulated subchannel: one connection to one pod, moving IDLE -> CONNECTING -> READY or
 * TRANSIENT_FAILURE as the simulated network decides, retrying after grpc-java's exponential
 * backoff (1 s, x1.6, +-20 % jitter, 120 s cap) and going IDLE when the connection is lost or the
 * server sends GOAWAY. {@link #asChannel} answers the balancer's health probes as the pod would.
 * Single-threaded: the simulation's thread; states reach the balancer through its
 * SynchronizationContext.
 */
final class SimConnection extends LoadBalancer.Subchannel {
  private static final long INITIAL_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(1);
  private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(120);
  private static final long CONNECT_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(20);

  private final FleetSim sim;
  private final SimHelper helper;
  private List<EquivalentAddressGroup> addresses;
  final SimPod pod;
  final Set<SimRpc.Attempt> inFlight = new LinkedHashSet<>();
  private LoadBalancer.SubchannelStateListener listener;
  private ConnectivityState state = IDLE;
  private long generation; // bumps on every transition, so stale timers do nothing
  private long backoffNanos = INITIAL_BACKOFF_NANOS;

  /** GOAWAY received but not yet reported: new streams are refused (transparently retried). */
  boolean draining;

  SimConnection(FleetSim sim, SimHelper helper, List<EquivalentAddressGroup> addresses) {
    this.sim = sim;
    this.helper = helper;
    this.addresses = List.copyOf(addresses);
    this.pod = sim.podAt(addresses.get(0).getAddresses().get(0));
  }

  ConnectivityState state() {
    return state;
  }

  @Override
  public void start(LoadBalancer.SubchannelStateListener listener) {
    helper.getSynchronizationContext().throwIfNotInThisSynchronizationContext();
    if (this.listener != null) {
      throw new IllegalStateException("start() called twice on " + this);
    }
    this.listener = listener;
  }

  @Override
  public void requestConnection() {
    helper.getSynchronizationContext().throwIfNotInThisSynchronizationContext();
    if (state == IDLE) {
      connect();
    }
  }

  private void connect() {
    move(CONNECTING, Status.OK);
    long attempt = generation;
    long delay;
    boolean succeeds;
    if (sim.networkDown() || pod == null || pod.reach == SimPod.Reach.DOWN) {
      delay = TimeUnit.MILLISECONDS.toNanos(1);
      succeeds = false;
    } else if (pod.reach == SimPod.Reach.PARTITIONED) {
      delay = CONNECT_TIMEOUT_NANOS;
      succeeds = false;
    } else {
      delay = sim.jitter(pod, TimeUnit.MILLISECONDS.toNanos(3));
      succeeds = true;
    }
    sim.schedule(
        delay,
        () -> {
          if (generation != attempt) {
            return;
          }
          if (succeeds && !sim.networkDown() && pod.reach == SimPod.Reach.SERVING) {
            backoffNanos = INITIAL_BACKOFF_NANOS;
            move(READY, Status.OK);
            sim.connectionReady(this);
          } else {
            fail();
          }
        });
  }

  private void fail() {
    move(TRANSIENT_FAILURE, Status.UNAVAILABLE.withDescription("simulated: connection failed"));
    long attempt = generation;
    long delay = pod == null ? backoffNanos : sim.jitter(pod, backoffNanos);
    backoffNanos = Math.min(MAX_BACKOFF_NANOS, (long) (backoffNanos * 1.6));
    sim.schedule(
        delay,
        () -> {
          if (generation == attempt) {
            connect();
          }
        });
  }

  /** The connection breaks (pod gone, network blip): in-flight RPCs fail, the state goes IDLE. */
  void reset() {
    if (state != READY) {
      return;
    }
    for (SimRpc.Attempt attempt : new ArrayList<>(inFlight)) {
      attempt.reset(Status.UNAVAILABLE.withDescription("simulated: connection reset"));
    }
    draining = false;
    move(IDLE, Status.OK);
  }

  /** The server sends GOAWAY: in-flight RPCs finish; the channel learns after {@code raceNanos}. */
  void goAway(long raceNanos) {
    if (state != READY || draining) {
      return;
    }
    draining = true;
    long attempt = generation;
    sim.schedule(
        raceNanos,
        () -> {
          if (generation == attempt) {
            draining = false;
            move(IDLE, Status.OK);
          }
        });
  }

  private void move(ConnectivityState next, Status status) {
    generation++;
    ConnectivityState before = state;
    state = next;
    if (pod != null && (before == READY) != (next == READY)) {
      sim.podReadyChanged(pod, next == READY);
    }
    ConnectivityStateInfo info =
        next == TRANSIENT_FAILURE
            ? ConnectivityStateInfo.forTransientFailure(status)
            : ConnectivityStateInfo.forNonError(next);
    helper
        .getSynchronizationContext()
        .execute(
            () -> {
              if (listener != null && state != SHUTDOWN) {
                listener.onSubchannelState(info);
              }
            });
  }

  @Override
  public void shutdown() {
    helper.getSynchronizationContext().throwIfNotInThisSynchronizationContext();
    if (state == SHUTDOWN) {
      return;
    }
    generation++;
    if (state == READY && pod != null) {
      sim.podReadyChanged(pod, false);
    }
    state = SHUTDOWN;
    draining = false;
    helper.removed(this);
  }

  /**
   * grpc-java's pick_first (under its round_robin) hands every address update to its subchannel; a
   * simulated connection stays one pod's, so only that pod's address is accepted.
   */
  @Override
  public void updateAddresses(List<EquivalentAddressGroup> next) {
    helper.getSynchronizationContext().throwIfNotInThisSynchronizationContext();
    if (next.size() != 1
        || next.get(0).getAddresses().size() != 1
        || sim.podAt(next.get(0).getAddresses().get(0)) != pod) {
      throw new UnsupportedOperationException(
          "a simulated connection is to one pod: "
              + pod
              + "'s connection was given "
              + next
              + "; expected its own address alone");
    }
    addresses = List.copyOf(next);
  }

  @Override
  public List<EquivalentAddressGroup> getAllAddresses() {
    return addresses;
  }

  @Override
  public Attributes getAttributes() {
    return Attributes.EMPTY;
  }

  @Override
  public ChannelLogger getChannelLogger() {
    return NoopChannelLogger.INSTANCE;
  }

  /** A channel over this connection only, as grpc-java gives balancers for health probes. */
  @Override
  public Channel asChannel() {
    return new Channel() {
      @Override
      public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
          MethodDescriptor<ReqT, RespT> method, CallOptions options) {
        return new ProbeCall<>(options);
      }

      @Override
      public String authority() {
        return helper.getAuthority();
      }
    };
  }

  @Override
  public String toString() {
    return "SimConnection(" + pod + ", " + state + ")";
  }

  /** One probe RPC: answered after 1 ms by a responsive pod, never by a hung or cut-off one. */
  private final class ProbeCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
    private final CallOptions options;
    private Listener<RespT> callListener;
    private boolean closed;

    ProbeCall(CallOptions options) {
      this.options = options;
    }

    @Override
    public void start(Listener<RespT> listener, Metadata headers) {
      this.callListener = listener;
      if (state != READY) {
        sim.schedule(0, () -> close(Status.UNAVAILABLE.withDescription("simulated: not ready")));
      } else if (pod.reach == SimPod.Reach.SERVING && pod.model.answersProbes()) {
        sim.schedule(TimeUnit.MILLISECONDS.toNanos(1), () -> close(Status.OK));
      } else if (options.getDeadline() != null) {
        long remaining = Math.max(0, options.getDeadline().timeRemaining(TimeUnit.NANOSECONDS));
        sim.schedule(remaining, () -> close(Status.DEADLINE_EXCEEDED));
      }
    }

    private void close(Status status) {
      if (!closed) {
        closed = true;
        callListener.onClose(status, new Metadata());
      }
    }

    @Override
    public void request(int numMessages) {}

    @Override
    public void cancel(String message, Throwable cause) {
      sim.schedule(0, () -> close(Status.CANCELLED.withDescription(message)));
    }

    @Override
    public void halfClose() {}

    @Override
    public void sendMessage(ReqT message) {}
  }
}
