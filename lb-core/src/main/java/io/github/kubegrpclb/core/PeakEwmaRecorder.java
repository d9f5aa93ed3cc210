package io.github.kubegrpclb.core;

import io.grpc.Metadata;
import io.grpc.Status;

/**
 * Feeds one endpoint's unary RPCs into its peak-EWMA {@link PeakEwmaLoad}: the RPCs in flight, the
 * round trip of each (from the stream's start to the first response message, or to its close for an
 * RPC that ends without one; a failure costs at least the failure penalty), the fleet's latency and
 * the server's retry pushback. The endpoint's {@link RpcTracer} calls it; built once per config,
 * immutable and thread-safe.
 */
final class PeakEwmaRecorder implements RpcTracer.Load {
  /** The server's retry pushback ({@code grpc-retry-pushback-ms}), honoured by the load. */
  static final Metadata.Key<String> PUSHBACK =
      Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);

  private final PeakEwmaLoad load;
  private final PeakEwmaConfig config;
  private final RecentClock clock;
  private final FleetLatency fleet;

  PeakEwmaRecorder(
      PeakEwmaLoad load, PeakEwmaConfig config, RecentClock clock, FleetLatency fleet) {
    this.load = load;
    this.config = config;
    this.clock = clock;
    this.fleet = fleet;
  }

  @Override
  public long now() {
    return clock.tick();
  }

  @Override
  public long started() {
    long now = clock.read();
    load.rpcStarted(now);
    return now;
  }

  @Override
  public void closed(boolean sent, long nowNanos, long pushbackNanos) {
    if (sent) {
      load.rpcFinished(nowNanos);
    }
    if (pushbackNanos >= 0) {
      load.pushBack(nowNanos + pushbackNanos);
    }
  }

  @Override
  public void observe(long rttNanos, Status.Code code, long nowNanos) {
    boolean failed = config.isFailure(code);
    long rtt = failed ? Math.max(rttNanos, config.failurePenaltyNanos()) : rttNanos;
    long fleetSamples = fleet.record((double) rtt, !failed);
    load.observe(rtt, nowNanos, fleetSamples, (double) config.decayNanos(), fleet);
  }
}
