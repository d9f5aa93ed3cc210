package io.github.kubegrpclb.sharding;

import io.github.kubegrpclb.testing.LoopbackPod;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A shard's channel whose connectivity the test drives, with grpc-java's rules: it starts IDLE;
 * {@code getState(true)} moves IDLE to CONNECTING; state callbacks are one-shot and run when the
 * state leaves their source; nothing leaves SHUTDOWN; after {@link #shutdown} new calls fail and
 * started ones finish. Records connection requests, backoff resets, idling and the calls made.
 *
 * <p>Not thread-safe: for single-threaded FakeClock tests.
 */
final class FakeShardChannel extends ManagedChannel {
  private ConnectivityState state = ConnectivityState.IDLE;
  private List<Runnable> listeners = new ArrayList<>();
  private final List<FakeCall<?, ?>> calls = new ArrayList<>();
  private boolean shutdown;
  private boolean shutdownNow;
  int connectionRequests;
  int backoffResets;
  int idleRequests;

  /** Moves to {@code next}, running the callbacks registered for the previous state. */
  void setState(ConnectivityState next) {
    if (state == next || state == ConnectivityState.SHUTDOWN) {
      return;
    }
    state = next;
    List<Runnable> due = listeners;
    listeners = new ArrayList<>();
    due.forEach(Runnable::run);
  }

  ConnectivityState state() {
    return state;
  }

  /** Calls made on this channel, in order. */
  List<FakeCall<?, ?>> calls() {
    return calls;
  }

  /** Calls started and not yet closed. */
  long openCalls() {
    return calls.stream().filter(call -> call.started && !call.closed).count();
  }

  boolean shutdownNowCalled() {
    return shutdownNow;
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions options) {
    FakeCall<ReqT, RespT> call = new FakeCall<>(shutdown);
    calls.add(call);
    return call;
  }

  @Override
  public String authority() {
    return "fake.authority";
  }

  @Override
  public ConnectivityState getState(boolean requestConnection) {
    ConnectivityState current = state;
    if (requestConnection && state == ConnectivityState.IDLE) {
      connectionRequests++;
      setState(ConnectivityState.CONNECTING);
    }
    return current;
  }

  @Override
  public void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
    if (state != source) {
      callback.run();
    } else {
      listeners.add(callback);
    }
  }

  @Override
  public void resetConnectBackoff() {
    backoffResets++;
  }

  @Override
  public void enterIdle() {
    idleRequests++;
    setState(ConnectivityState.IDLE);
  }

  @Override
  public ManagedChannel shutdown() {
    shutdown = true;
    setState(ConnectivityState.SHUTDOWN);
    return this;
  }

  @Override
  public ManagedChannel shutdownNow() {
    shutdownNow = true;
    shutdown();
    for (FakeCall<?, ?> call : List.copyOf(calls)) {
      if (call.started && !call.closed) {
        call.close(Status.CANCELLED.withDescription("shutdownNow"));
      }
    }
    return this;
  }

  @Override
  public boolean isShutdown() {
    return shutdown;
  }

  @Override
  public boolean isTerminated() {
    return shutdown && openCalls() == 0;
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return isTerminated();
  }

  /** A call the test answers: {@link #respond} with a pod name, {@link #close} with a status. */
  static final class FakeCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
    private final boolean channelShutDown;
    private Listener<RespT> listener;
    boolean started;
    boolean cancelled;
    boolean closed;
    Status status;

    FakeCall(boolean channelShutDown) {
      this.channelShutDown = channelShutDown;
    }

    @Override
    public void start(Listener<RespT> listener, Metadata headers) {
      if (cancelled) {
        throw new IllegalStateException("call was cancelled");
      }
      this.listener = listener;
      started = true;
      if (channelShutDown) {
        close(Status.UNAVAILABLE.withDescription("Channel shutdown invoked"));
      }
    }

    /** Sends response headers naming {@code pod} in {@link LoopbackPod#POD_HEADER}. */
    void respond(String pod) {
      Metadata headers = new Metadata();
      headers.put(LoopbackPod.POD_HEADER, pod);
      listener.onHeaders(headers);
    }

    void close(Status status) {
      if (closed) {
        return;
      }
      closed = true;
      this.status = status;
      listener.onClose(status, new Metadata());
    }

    @Override
    public void request(int numMessages) {}

    @Override
    public void cancel(String message, Throwable cause) {
      cancelled = true;
      if (started) {
        close(Status.CANCELLED.withDescription(message));
      }
    }

    @Override
    public void halfClose() {}

    @Override
    public void sendMessage(ReqT message) {}
  }
}
