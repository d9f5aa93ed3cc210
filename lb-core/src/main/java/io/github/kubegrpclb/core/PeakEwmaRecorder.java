package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.ClientStreamTracer;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.concurrent.TimeUnit;
import javax.annotation.Nullable;

/**
 * Counts an endpoint's unary RPCs in flight, feeds their latency and failures into its estimate and
 * their outcomes into outlier ejection.
 */
final class PeakEwmaRecorder extends ClientStreamTracer.Factory {
  static final Metadata.Key<String> PUSHBACK =
      Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);

  private final EndpointLoad load;
  @Nullable private final OutcomeCounts outcomes; // null when outlier ejection is off
  private final EndpointTelemetry telemetry;
  private final PeakEwmaConfig config;
  private final RecentClock clock;
  private final FleetLatency fleet;

  /**
   * @param outcomes where outcomes go for outlier ejection, or null when it is off
   * @param telemetry where the endpoint's RPCs are counted
   */
  PeakEwmaRecorder(
      EndpointLoad load,
      @Nullable OutcomeCounts outcomes,
      EndpointTelemetry telemetry,
      PeakEwmaConfig config,
      RecentClock clock,
      FleetLatency fleet) {
    this.load = load;
    this.outcomes = outcomes;
    this.telemetry = telemetry;
    this.config = config;
    this.clock = clock;
    this.fleet = fleet;
  }

  @Override
  public ClientStreamTracer newClientStreamTracer(
      ClientStreamTracer.StreamInfo info, Metadata headers) {
    return new RpcTracer(clock.tick(), RpcOutcome.attemptDeadline(info.getCallOptions()));
  }

  /**
   * One RPC attempt. It counts as in flight from the moment its headers are on the wire ({@code
   * outboundHeaders}) until it closes: a stream that grpc-java creates but never starts (a cancel
   * racing the stream's start) sees neither, so it never counts, where counting from the tracer's
   * creation would leave +1 in flight forever. grpc-java calls a tracer's methods one at a time,
   * possibly from different threads: the fields are volatile for visibility.
   */
  private final class RpcTracer extends ClientStreamTracer {
    private final long startNanos;
    @Nullable private final Deadline deadline; // null when the attempt has none
    private volatile boolean counted;
    private volatile long sentNanos; // when outboundHeaders told the outcome counts
    private volatile long firstResponseNanos;
    private volatile boolean responded;
    private volatile boolean answered; // headers, a message or trailers: the endpoint answered
    private volatile long pushbackNanos = -1;

    RpcTracer(long startNanos, @Nullable Deadline deadline) {
      this.startNanos = startNanos;
      this.deadline = deadline;
    }

    @Override
    public void outboundHeaders() {
      if (!counted) {
        counted = true;
        load.rpcStarted(clock.read());
        telemetry.rpcStarted();
        if (outcomes != null) {
          sentNanos = clock.read();
          outcomes.sent(sentNanos);
        }
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
        firstResponseNanos = clock.tick();
      }
    }

    @Override
    public void inboundTrailers(Metadata trailers) {
      answered = true;
      String pushback = trailers.get(PUSHBACK);
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
      long now = clock.tick();
      boolean sent = counted;
      if (counted) {
        counted = false;
        load.rpcFinished(now);
        telemetry.rpcFinished(status.getCode());
      }
      if (pushbackNanos >= 0) {
        load.pushBack(now + pushbackNanos);
      }
      Status.Code code = RpcOutcome.effectiveCode(status, deadline);
      if (!RpcOutcome.counts(sent, answered, status, code)) {
        if (sent && outcomes != null) {
          outcomes.abandoned(sentNanos, answered, now);
        }
        return; // never sent, refused by a GOAWAY, or given up by the client: not the endpoint's
      }
      boolean failed = config.isFailure(code);
      if (outcomes != null) {
        outcomes.record(
            config.balancer().outlierEjection().failureCodes.contains(code),
            answered,
            now - startNanos,
            now);
      }
      long rtt = (responded ? firstResponseNanos : now) - startNanos;
      if (failed) {
        rtt = Math.max(rtt, config.failurePenaltyNanos());
      }
      long fleetSamples = fleet.record((double) rtt, !failed);
      load.observe(rtt, now, fleetSamples, (double) config.decayNanos(), fleet);
    }
  }
}
