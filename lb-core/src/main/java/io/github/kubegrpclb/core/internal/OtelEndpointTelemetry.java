package io.github.kubegrpclb.core.internal;

import static io.github.kubegrpclb.core.internal.OtelInstruments.GRPC_STATUS;

import io.grpc.Status;
import io.opentelemetry.api.common.Attributes;

/**
 * One endpoint's RPC counters on OpenTelemetry: attempts started, finished (by gRPC status) and in
 * flight, under the endpoint's own attributes or, past the endpoint limit, under {@code _other}.
 * {@link #rpcStarted} and {@link #rpcFinished} run on the RPC path (any thread, concurrently) and
 * allocate nothing once each status code has been seen; {@link #close} runs in the balancer's
 * SynchronizationContext.
 */
// Attributes are looked up by ordinal: an array read, lock- and allocation-free on the RPC path.
@SuppressWarnings("EnumOrdinal")
final class OtelEndpointTelemetry implements EndpointTelemetry {
  private static final Status.Code[] CODES = Status.Code.values();

  private final OtelInstruments instruments;
  private final OtelBalancerTelemetry balancer;
  final Attributes attributes;
  final boolean individual; // series of its own; false: counted under _other
  private final Attributes[] finishedAttributes = new Attributes[CODES.length];
  private boolean closed;

  OtelEndpointTelemetry(
      OtelInstruments instruments,
      OtelBalancerTelemetry balancer,
      Attributes attributes,
      boolean individual) {
    this.instruments = instruments;
    this.balancer = balancer;
    this.attributes = attributes;
    this.individual = individual;
  }

  @Override
  public void rpcStarted() {
    instruments.rpcsStarted.add(1, attributes);
    instruments.rpcsActive.add(1, attributes);
  }

  @Override
  public void rpcFinished(Status.Code code) {
    instruments.rpcsActive.add(-1, attributes);
    Attributes finished = finishedAttributes[code.ordinal()];
    if (finished == null) {
      // A benign race: Attributes are immutable, so a thread may at worst build its own copy.
      finished = attributes.toBuilder().put(GRPC_STATUS, code.name()).build();
      finishedAttributes[code.ordinal()] = finished;
    }
    instruments.rpcsFinished.add(1, finished);
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      if (individual) {
        balancer.individualEndpointClosed();
      }
    }
  }
}
