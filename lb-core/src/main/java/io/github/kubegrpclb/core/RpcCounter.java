package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.ClientStreamTracer;
import io.grpc.Metadata;
import io.grpc.Status;

/**
 * Counts one endpoint's RPCs for its telemetry, for picks that carry no tracer of the policy's own
 * (kube_round_robin, and streams). An RPC counts from the moment its headers are on the wire until
 * it closes, as {@code peak_ewma}'s in-flight count does: a stream that grpc-java creates but never
 * starts is never counted, so nothing stays in flight forever. Thread-safe.
 */
final class RpcCounter extends ClientStreamTracer.Factory {
  private final EndpointTelemetry telemetry;

  private RpcCounter(EndpointTelemetry telemetry) {
    this.telemetry = telemetry;
  }

  static RpcCounter of(EndpointTelemetry telemetry) {
    return new RpcCounter(telemetry);
  }

  @Override
  public ClientStreamTracer newClientStreamTracer(
      ClientStreamTracer.StreamInfo info, Metadata headers) {
    return new Tracer(telemetry);
  }

  @Override
  public String toString() {
    return "RpcCounter";
  }

  /**
   * One RPC attempt; grpc-java calls it one method at a time, possibly from several threads. Not
   * final: {@link OutcomeRecorder} extends it to also record each attempt's outcome.
   */
  static class Tracer extends ClientStreamTracer {
    private final EndpointTelemetry telemetry;
    private volatile boolean started;

    Tracer(EndpointTelemetry telemetry) {
      this.telemetry = telemetry;
    }

    @Override
    public void outboundHeaders() {
      if (!started) {
        started = true;
        telemetry.rpcStarted();
      }
    }

    /** Counts the RPC as finished; overriders call it first. */
    @Override
    public void streamClosed(Status status) {
      if (started) {
        started = false;
        telemetry.rpcFinished(status.getCode());
      }
    }
  }
}
