package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.ClientStreamTracer;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.Set;
import java.util.function.LongSupplier;
import javax.annotation.Nullable;

/**
 * Feeds the outcome of each unary RPC on one endpoint into its {@link OutcomeCounts}, for outlier
 * ejection under {@code kube_round_robin} ({@code peak_ewma}'s own tracer does the same, through
 * the same {@link RpcOutcome} rules). Stateless apart from the per-RPC tracer it creates;
 * thread-safe.
 */
final class OutcomeRecorder extends ClientStreamTracer.Factory {
  private final OutcomeCounts counts;
  private final Set<Status.Code> failureCodes;
  private final LongSupplier nanoClock;
  private final EndpointTelemetry telemetry;

  /**
   * @param telemetry where the RPCs are also counted, by the {@link RpcCounter.Tracer} each tracer
   *     extends
   */
  OutcomeRecorder(
      OutcomeCounts counts,
      Set<Status.Code> failureCodes,
      LongSupplier nanoClock,
      EndpointTelemetry telemetry) {
    this.counts = counts;
    this.failureCodes = failureCodes;
    this.nanoClock = nanoClock;
    this.telemetry = telemetry;
  }

  @Override
  public ClientStreamTracer newClientStreamTracer(
      ClientStreamTracer.StreamInfo info, Metadata headers) {
    return new Tracer(RpcOutcome.attemptDeadline(info.getCallOptions()));
  }

  /** One attempt; grpc-java calls it one method at a time, maybe from several threads. */
  private final class Tracer extends RpcCounter.Tracer {
    @Nullable private final Deadline deadline; // null when the attempt has none
    private volatile long sentNanos;
    private volatile boolean sent;
    private volatile boolean answered;

    Tracer(@Nullable Deadline deadline) {
      super(telemetry);
      this.deadline = deadline;
    }

    @Override
    public void outboundHeaders() {
      super.outboundHeaders();
      if (!sent) {
        sentNanos = nanoClock.getAsLong();
        sent = true;
        counts.sent(sentNanos);
      }
    }

    @Override
    public void inboundHeaders() {
      answered = true;
    }

    @Override
    public void inboundMessage(int seqNo) {
      answered = true;
    }

    @Override
    public void inboundTrailers(Metadata trailers) {
      answered = true;
    }

    @Override
    public void streamClosed(Status status) {
      super.streamClosed(status);
      Status.Code code = RpcOutcome.effectiveCode(status, deadline);
      if (RpcOutcome.counts(sent, answered, status, code)) {
        sent = false; // a second close must not count twice
        long now = nanoClock.getAsLong();
        counts.record(failureCodes.contains(code), answered, now - sentNanos, now);
      } else if (sent) {
        sent = false;
        counts.abandoned(sentNanos, answered, nanoClock.getAsLong());
      }
    }
  }
}
