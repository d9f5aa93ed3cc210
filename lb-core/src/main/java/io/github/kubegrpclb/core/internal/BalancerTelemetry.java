package io.github.kubegrpclb.core.internal;

import io.grpc.ConnectivityState;
import javax.annotation.Nullable;

/**
 * Records what one balancer (one channel's policy instance) does: its endpoints' RPCs, its picker
 * updates, and, through the view it was created with, gauges of every endpoint. Called only in the
 * balancer's SynchronizationContext.
 */
public interface BalancerTelemetry {
  /** Records nothing. */
  BalancerTelemetry NOOP =
      new BalancerTelemetry() {
        @Override
        public boolean isRecording() {
          return false;
        }

        @Override
        public EndpointTelemetry endpoint(String address, @Nullable String zone) {
          return EndpointTelemetry.NOOP;
        }

        @Override
        public void pickerUpdated(ConnectivityState state) {}

        @Override
        public void close() {}
      };

  /**
   * Whether RPCs are recorded: a policy that needs no stream tracer of its own adds one only then.
   */
  boolean isRecording();

  /**
   * Returns the recorder of a new endpoint; its series carry {@code address} and {@code zone} (null
   * when unknown) while the balancer's endpoint limit allows.
   */
  EndpointTelemetry endpoint(String address, @Nullable String zone);

  /** The balancer published a new picker while in {@code state}. */
  void pickerUpdated(ConnectivityState state);

  /**
   * The balancer asked {@code count} long-lived streams to move, for {@code reason} ({@code
   * scale_up}, {@code imbalance}, {@code terminating}).
   */
  default void streamsEnded(String reason, int count) {}

  /** The balancer shut down: stops its gauges. */
  void close();
}
