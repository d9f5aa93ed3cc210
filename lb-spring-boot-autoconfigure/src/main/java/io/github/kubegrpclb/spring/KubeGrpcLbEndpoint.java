package io.github.kubegrpclb.spring;

import io.github.kubegrpclb.core.LbDebug;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;
import org.springframework.boot.grpc.client.autoconfigure.GrpcClientProperties;

/**
 * The actuator endpoint {@code kubegrpclb}: {@link LbDebug}'s snapshot of the channels' resolvers
 * and balancers (endpoints, states, in-flight RPCs, latency estimates, ejections), as text. Expose
 * it with {@code management.endpoints.web.exposure.include=kubegrpclb}: {@code
 * /actuator/kubegrpclb} shows every channel, {@code /actuator/kubegrpclb/<name>} the Spring gRPC
 * channel {@code name}. Thread-safe.
 */
@Endpoint(id = "kubegrpclb")
public final class KubeGrpcLbEndpoint {
  private final GrpcClientProperties channels;

  /** Reads channel names' targets from {@code channels}. */
  public KubeGrpcLbEndpoint(GrpcClientProperties channels) {
    this.channels = channels;
  }

  /** Every channel's snapshot. */
  @ReadOperation
  public String snapshot() {
    return LbDebug.snapshot();
  }

  /** The snapshot of the Spring gRPC channel {@code name} (its address's channels). */
  @ReadOperation
  public String channel(@Selector String name) {
    return LbDebug.snapshot(channels.getTarget(name));
  }
}
