package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.ClientStreamTracer;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Feeds the outcome of each unary RPC on one endpoint into its {@link OutcomeCounts}, for outlier
 * ejection under {@code kube_round_robin} ({@code peak_ewma}'s own tracer does the same). Stateless
 * apart from the per-RPC tracer it creates; thread-safe.
 */
final class OutcomeRecorder extends ClientStreamTracer.Factory {
  private final OutcomeCounts counts;
  private final Set<Status.Code> failureCodes;
  private final LongSupplier nanoClock;
  private final EndpointTelemetry telemetry;

  OutcomeRecorder(OutcomeCounts counts, Set<Status.Code> failureCodes, LongSupplier nanoClock) {
    this(counts, failureCodes, nanoClock, EndpointTelemetry.NOOP);
  }

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
    Deadline deadline = info.getCallOptions().getDeadline();
    long startNanos = nanoClock.getAsLong();
    return new RpcCounter.Tracer(telemetry) {
      @Override
      public void streamClosed(Status status) {
        super.streamClosed(status);
        Status.Code code = effectiveCode(status, deadline);
        if (code != Status.Code.CANCELLED) {
          counts.record(
              failureCodes.contains(code),
              code == Status.Code.DEADLINE_EXCEEDED,
              startNanos,
              nanoClock.getAsLong());
        }
      }
    };
  }

  /**
   * The code an attempt ended with, as the endpoint caused it. grpc-java's retry support (on by
   * default) cancels an attempt whose call deadline expired with CANCELLED ("Stream thrown away
   * because RetriableStream committed"), so a CANCELLED attempt past its deadline is a
   * DEADLINE_EXCEEDED: the endpoint did not answer in time. Other CANCELLED attempts were given up
   * by the client and say nothing about the endpoint.
   */
  static Status.Code effectiveCode(Status status, Deadline deadline) {
    Status.Code code = status.getCode();
    if (code == Status.Code.CANCELLED && deadline != null && deadline.isExpired()) {
      return Status.Code.DEADLINE_EXCEEDED;
    }
    return code;
  }
}
