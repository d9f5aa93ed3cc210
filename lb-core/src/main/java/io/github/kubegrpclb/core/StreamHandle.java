package io.github.kubegrpclb.core;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Status;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.annotation.Nullable;

/**
 * One streaming call as the balancer tracks it: which endpoint's {@link EndpointStreams} it is
 * counted in, its opening order (for oldest first) and how to end it. The picker attaches it to the
 * endpoint it picks (again on a re-pick or a retry attempt); the interceptor's listener detaches it
 * when the call closes.
 *
 * <p>Thread-safe: picks, the close and the balancer's end requests arrive on different threads, and
 * every state change holds this object's lock (never while calling out).
 */
final class StreamHandle {
  private static final Logger logger = Logger.getLogger(StreamHandle.class.getName());

  /** Carries the handle from the interceptor to the picker. */
  static final CallOptions.Key<StreamHandle> KEY =
      CallOptions.Key.create("io.github.kubegrpclb.stream.handle");

  // The opening order across the process: oldest first needs an order, not a time.
  private static final AtomicLong SEQUENCE = new AtomicLong();

  final long sequence = SEQUENCE.incrementAndGet();
  @Nullable private final StreamRebalancing.MoveHandler handler; // null: cancel the call instead
  @Nullable private ClientCall<?, ?> call; // null until the interceptor sets it
  @Nullable private EndpointStreams attachedTo; // null before the first pick and once closed
  private boolean closed;
  private long openedAtNanos;
  private boolean opened;
  // The balancer asked this stream to end, for this reason; null until it does.
  @Nullable private Status endStatus;
  private boolean cancelled;

  /**
   * @param handler the application's handler, or null to cancel the call with the status
   */
  StreamHandle(@Nullable StreamRebalancing.MoveHandler handler) {
    this.handler = handler;
  }

  synchronized void setCall(ClientCall<?, ?> call) {
    this.call = call;
  }

  /** Counts the stream on {@code streams} (and no longer where it was); no-op once closed. */
  void attach(EndpointStreams streams) {
    EndpointStreams previous;
    synchronized (this) {
      if (closed || attachedTo == streams) {
        return;
      }
      previous = attachedTo;
      attachedTo = streams;
      streams.add(this);
    }
    if (previous != null) {
      previous.remove(this);
    }
  }

  /**
   * The call closed with {@code status}: detaches it, and returns the status the application sees
   * (the balancer's reason instead of the CANCELLED its own cancel caused).
   */
  Status closed(Status status) {
    EndpointStreams previous;
    Status reason;
    boolean wasCancelled;
    synchronized (this) {
      closed = true;
      previous = attachedTo;
      attachedTo = null;
      reason = endStatus;
      wasCancelled = cancelled;
    }
    if (previous != null) {
      previous.closed(this, reason == null);
    }
    // A cancelled stream has a reason: requestEnd sets it before it cancels.
    return wasCancelled && reason != null && status.getCode() == Status.Code.CANCELLED
        ? reason
        : status;
  }

  /** Notes when the stream was first placed on an endpoint (a re-pick keeps the first time). */
  synchronized void opened(long nowNanos) {
    if (!opened) {
      opened = true;
      openedAtNanos = nowNanos;
    }
  }

  synchronized long openedAtNanos() {
    return openedAtNanos;
  }

  /** Whether the balancer already asked this stream to end (or it closed). */
  synchronized boolean isEnding() {
    return closed || endStatus != null;
  }

  /**
   * Asks the stream to end with {@code reason}: tells the application's handler, or cancels the
   * call when there is none (or {@code force}, for a stream that ignored its request until its
   * drain deadline). Returns whether anything was done.
   */
  boolean requestEnd(Status reason, boolean force) {
    ClientCall<?, ?> toCancel = null;
    StreamRebalancing.MoveHandler tell = null; // the handler to tell, or null to cancel
    synchronized (this) {
      if (closed || cancelled || (endStatus != null && !force) || call == null) {
        return false;
      }
      if (endStatus == null) {
        endStatus = reason;
      }
      if (handler == null || force) {
        cancelled = true;
        toCancel = call;
      } else {
        tell = handler;
      }
    }
    if (tell != null) {
      try {
        tell.moveRequested(reason);
      } catch (RuntimeException e) {
        return requestEnd(reason, true); // a broken handler must not pin the stream
      }
    } else if (toCancel != null) { // never null here: requestEnd returned early without a call
      try {
        toCancel.cancel(reason.getDescription(), null);
      } catch (RuntimeException e) {
        // An application interceptor below ours threw: the stream is marked ended either way, and
        // the balancer's context must not see the exception.
        logger.log(Level.FINE, "cancelling " + this + " threw", e);
      }
    }
    return true;
  }

  @Override
  public String toString() {
    return "stream#" + sequence;
  }
}
