package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.ClientStreamTracer;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import javax.annotation.Nullable;

/**
 * The stream tracer a pick result carries, the one for both policies: it counts one endpoint's RPC
 * attempts for its telemetry (and zone spill), records each unary attempt's outcome for outlier
 * ejection when that is on ({@link OutcomeCounts}, through {@link RpcOutcome}'s rules), and feeds
 * the policy's per-endpoint load when the policy keeps one ({@link Load}, peak_ewma's). An attempt
 * counts from the moment its headers are on the wire until it closes: a stream that grpc-java
 * creates but never starts (a cancel racing the stream's start) sees neither, so nothing stays in
 * flight forever. Thread-safe; the factory is immutable.
 */
final class RpcTracer extends ClientStreamTracer.Factory {
  /**
   * What a policy learns from each unary attempt on one endpoint (peak_ewma's {@link
   * PeakEwmaRecorder}). With a load, an attempt is timed on the load's clock from the tracer's
   * creation (peak-EWMA's round trip); without one, outcomes are timed from the headers out. Called
   * from RPC threads, concurrently.
   */
  interface Load {
    /** Reads the policy's clock: the attempt's times are on it. */
    long now();

    /** The attempt's headers are on the wire; returns the time outcome counting records. */
    long started();

    /**
     * The attempt closed at {@code nowNanos}, after its headers were {@code sent} or not; {@code
     * pushbackNanos} is the server's retry pushback, or -1 for none.
     */
    void closed(boolean sent, long nowNanos, long pushbackNanos);

    /** A round trip the endpoint is answerable for ({@link RpcOutcome#counts}), ended with code. */
    void observe(long rttNanos, Status.Code code, long nowNanos);
  }

  private final EndpointTelemetry telemetry;
  @Nullable private final SpillCounter spill;
  @Nullable private final OutcomeCounts outcomes;
  private final Set<Status.Code> failureCodes;
  private final LongSupplier clock;
  @Nullable private final Load load;

  private RpcTracer(
      EndpointTelemetry telemetry,
      @Nullable SpillCounter spill,
      @Nullable OutcomeCounts outcomes,
      Set<Status.Code> failureCodes,
      LongSupplier clock,
      @Nullable Load load) {
    this.telemetry = telemetry;
    this.spill = spill;
    this.outcomes = outcomes;
    this.failureCodes = failureCodes;
    this.clock = clock;
    this.load = load;
  }

  /** Counts attempts only (streams, and unary RPCs a policy does not measure). */
  static RpcTracer counting(EndpointTelemetry telemetry) {
    return new RpcTracer(telemetry, null, null, Set.of(), () -> 0L, null);
  }

  /**
   * Counts attempts (also into {@code spill} while zone spill measures; else null), records unary
   * outcomes into {@code outcomes} (null when outlier ejection is off) and feeds {@code load} (null
   * for a policy that keeps none).
   *
   * @param failureCodes the codes outlier ejection counts as failures
   * @param nanoClock times outcomes when there is no {@code load}, {@link System#nanoTime} outside
   *     tests
   */
  static RpcTracer unary(
      EndpointTelemetry telemetry,
      @Nullable SpillCounter spill,
      @Nullable OutcomeCounts outcomes,
      Set<Status.Code> failureCodes,
      LongSupplier nanoClock,
      @Nullable Load load) {
    return new RpcTracer(telemetry, spill, outcomes, failureCodes, nanoClock, load);
  }

  /** Whether unary outcomes are recorded for outlier ejection. */
  boolean recordsOutcomes() {
    return outcomes != null;
  }

  @Override
  public ClientStreamTracer newClientStreamTracer(
      ClientStreamTracer.StreamInfo info, Metadata headers) {
    if (outcomes == null && load == null) {
      return new Attempt(0, null);
    }
    return new Attempt(
        load != null ? load.now() : 0, RpcOutcome.attemptDeadline(info.getCallOptions()));
  }

  @Override
  public String toString() {
    return "RpcTracer" + (outcomes != null ? " recording outcomes" : "");
  }

  /**
   * One RPC attempt; grpc-java calls its methods one at a time, possibly from several threads: the
   * fields are volatile for visibility.
   */
  private final class Attempt extends ClientStreamTracer {
    @Nullable private final Deadline deadline;
    private volatile long startNanos; // the round trip's start: creation with a load, else sent
    private volatile boolean sent;
    private volatile long sentNanos;
    private volatile boolean answered; // headers, a message or trailers: the endpoint answered
    private volatile boolean responded;
    private volatile long firstResponseNanos;
    private volatile long pushbackNanos = -1;

    Attempt(long startNanos, @Nullable Deadline deadline) {
      this.startNanos = startNanos;
      this.deadline = deadline;
    }

    @Override
    public void outboundHeaders() {
      if (sent) {
        return;
      }
      sent = true;
      telemetry.rpcStarted();
      if (spill != null) {
        spill.started();
      }
      if (load != null) {
        sentNanos = load.started();
      } else if (outcomes != null) {
        sentNanos = clock.getAsLong();
        startNanos = sentNanos;
      }
      if (outcomes != null) {
        outcomes.sent(sentNanos);
      }
    }

    @Override
    public void inboundHeaders() {
      answered = true;
    }

    @Override
    public void inboundMessage(int seqNo) {
      if (!responded) {
        answered = true;
        responded = true;
        if (load != null) {
          firstResponseNanos = load.now();
        }
      }
    }

    @Override
    public void inboundTrailers(Metadata trailers) {
      answered = true;
      String pushback = load != null ? trailers.get(PeakEwmaRecorder.PUSHBACK) : null;
      if (pushback != null) {
        try {
          long millis = Long.parseLong(pushback.trim());
          if (millis >= 0) {
            pushbackNanos = TimeUnit.MILLISECONDS.toNanos(millis);
          }
        } catch (NumberFormatException e) {
          // malformed: grpc-java's retry ignores it too
        }
      }
    }

    @Override
    public void streamClosed(Status status) {
      boolean wasSent = sent;
      if (wasSent) {
        sent = false; // a second close must not count twice
        telemetry.rpcFinished(status.getCode());
        if (spill != null) {
          spill.finished();
        }
      }
      if (outcomes == null && load == null) {
        return;
      }
      long now = load != null ? load.now() : clock.getAsLong();
      if (load != null) {
        load.closed(wasSent, now, pushbackNanos);
      }
      Status.Code code = RpcOutcome.effectiveCode(status, deadline);
      if (!RpcOutcome.counts(wasSent, answered, status, code)) {
        if (wasSent && outcomes != null) {
          outcomes.abandoned(sentNanos, answered, now);
        }
        return; // never sent, refused by a GOAWAY, or given up by the client: not the endpoint's
      }
      if (outcomes != null) {
        outcomes.record(failureCodes.contains(code), answered, now - startNanos, now);
      }
      if (load != null) {
        load.observe((responded ? firstResponseNanos : now) - startNanos, code, now);
      }
    }
  }
}
