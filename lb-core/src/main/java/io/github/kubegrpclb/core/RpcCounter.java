package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.ClientStreamTracer;
import io.grpc.Metadata;
import io.grpc.Status;

/**
 * Counts one endpoint's RPCs for its telemetry, for a policy that has no stream tracer of its own.
 * One instance serves every RPC of the endpoint (it keeps no per-RPC state), so recording allocates
 * nothing. Thread-safe.
 */
final class RpcCounter extends ClientStreamTracer.Factory {
  private final EndpointTelemetry telemetry;
  private final ClientStreamTracer tracer;

  private RpcCounter(EndpointTelemetry telemetry) {
    this.telemetry = telemetry;
    this.tracer =
        new ClientStreamTracer() {
          @Override
          public void streamClosed(Status status) {
            telemetry.rpcFinished(status.getCode());
          }
        };
  }

  static RpcCounter of(EndpointTelemetry telemetry) {
    return new RpcCounter(telemetry);
  }

  @Override
  public ClientStreamTracer newClientStreamTracer(
      ClientStreamTracer.StreamInfo info, Metadata headers) {
    telemetry.rpcStarted();
    return tracer;
  }

  @Override
  public String toString() {
    return "RpcCounter";
  }
}
