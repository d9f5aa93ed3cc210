package io.github.kubegrpclb.core.internal;

import io.grpc.Status;

/**
 * Records the RPCs of one endpoint of one balancer. {@link #rpcStarted} and {@link #rpcFinished}
 * run on the RPC's path (stream tracers, any thread, concurrently) and allocate nothing once warm;
 * {@link #close} runs in the balancer's SynchronizationContext when the endpoint leaves it.
 */
public interface EndpointTelemetry {
  /** Records nothing. */
  EndpointTelemetry NOOP =
      new EndpointTelemetry() {
        @Override
        public void rpcStarted() {}

        @Override
        public void rpcFinished(Status.Code code) {}

        @Override
        public void close() {}
      };

  /** An RPC attempt started on this endpoint. */
  void rpcStarted();

  /** An RPC attempt on this endpoint ended with {@code code}. */
  void rpcFinished(Status.Code code);

  /** The endpoint left the balancer: frees its slot under the endpoint limit. */
  void close();
}
