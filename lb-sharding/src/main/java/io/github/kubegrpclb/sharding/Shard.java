package io.github.kubegrpclb.sharding;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall.SimpleForwardingClientCall;
import io.grpc.ForwardingClientCallListener.SimpleForwardingClientCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import javax.annotation.Nullable;

/**
 * One connection of a {@link ShardPool}: its channel, the pod it last reported, and a count of the
 * calls created on it that have not closed yet. A retired shard shuts its channel down once that
 * count reaches zero, so a call created before the swap, even one started later, still runs.
 *
 * <p>Thread-safe: the call count and the closed mark share one atomic, so a call either is counted
 * before the channel closes or sees it closed and goes elsewhere.
 */
final class Shard {
  private static final long CLOSED = -1;
  static final long NOT_READY = Long.MIN_VALUE;

  final int slot;
  final ManagedChannel channel;

  /** When the shard was dialed, on the pool's ticker. */
  final long dialedNanos;

  private final Channel calls;
  private final AtomicLong openCalls = new AtomicLong();
  private volatile boolean retired;
  @Nullable private volatile String identity;
  // Since when the channel has been READY, or NOT_READY; written in the pool's sync context.
  volatile long readySinceNanos = NOT_READY;

  /**
   * A shard in {@code slot} over {@code channel}, dialed at {@code dialedNanos}; with a {@code
   * podIdentityHeader}, every change of the pod the responses name is reported to {@code
   * onIdentity}.
   */
  Shard(
      int slot,
      ManagedChannel channel,
      long dialedNanos,
      @Nullable String podIdentityHeader,
      BiConsumer<Shard, String> onIdentity) {
    this.slot = slot;
    this.channel = channel;
    this.dialedNanos = dialedNanos;
    this.calls =
        podIdentityHeader == null
            ? channel
            : ClientInterceptors.intercept(
                channel,
                new PodIdentityInterceptor(
                    podIdentityHeader,
                    pod -> {
                      if (!pod.equals(identity)) {
                        identity = pod;
                        onIdentity.accept(this, pod);
                      }
                    }));
  }

  /** The pod this shard's responses last named, or null. */
  @Nullable
  String identity() {
    return identity;
  }

  /** A call on this shard, counted until it closes; null if the shard has closed meanwhile. */
  @Nullable
  <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions options) {
    long open;
    do {
      open = openCalls.get();
      if (open == CLOSED) {
        return null;
      }
    } while (!openCalls.compareAndSet(open, open + 1));
    try {
      return new CountedCall<>(calls.newCall(method, options));
    } catch (RuntimeException | Error e) {
      release();
      throw e;
    }
  }

  /** Calls created on this shard that have not closed yet. */
  long openCalls() {
    return Math.max(0, openCalls.get());
  }

  /** Takes the shard out of service: its channel shuts down once its last call has closed. */
  void retire() {
    retired = true;
    closeIfDone();
  }

  /** Whether {@link #retire} has shut the channel down. */
  boolean closed() {
    return openCalls.get() == CLOSED;
  }

  /**
   * Shuts the channel down now, gracefully: calls already started finish, a call created on it but
   * not started by now fails when it starts. For a retired shard whose count never drops, a call
   * that was created and then abandoned without start or cancel.
   */
  void closeNow() {
    openCalls.set(CLOSED);
    channel.shutdown();
  }

  private void release() {
    long open;
    do {
      open = openCalls.get();
      if (open == CLOSED) {
        return;
      }
    } while (!openCalls.compareAndSet(open, open - 1));
    if (open == 1 && retired) {
      closeIfDone();
    }
  }

  private void closeIfDone() {
    if (openCalls.compareAndSet(0, CLOSED)) {
      channel.shutdown();
    }
  }

  @Override
  public String toString() {
    return "Shard(slot " + slot + ", " + identity + ", " + channel.getState(false) + ")";
  }

  /* Released exactly once: when the listener is closed, when start throws, or when the call is
   * cancelled before it starts (it can never start then). */
  private final class CountedCall<ReqT, RespT> extends SimpleForwardingClientCall<ReqT, RespT> {
    private final AtomicBoolean released = new AtomicBoolean();
    private volatile boolean started;

    CountedCall(ClientCall<ReqT, RespT> delegate) {
      super(delegate);
    }

    @Override
    public void start(Listener<RespT> listener, Metadata headers) {
      started = true;
      try {
        super.start(
            new SimpleForwardingClientCallListener<RespT>(listener) {
              @Override
              public void onClose(Status status, Metadata trailers) {
                try {
                  super.onClose(status, trailers);
                } finally {
                  releaseOnce();
                }
              }
            },
            headers);
      } catch (RuntimeException | Error e) {
        releaseOnce();
        throw e;
      }
    }

    @Override
    public void cancel(String message, Throwable cause) {
      try {
        super.cancel(message, cause);
      } finally {
        if (!started) {
          releaseOnce();
        }
      }
    }

    private void releaseOnce() {
      if (released.compareAndSet(false, true)) {
        release();
      }
    }
  }
}
