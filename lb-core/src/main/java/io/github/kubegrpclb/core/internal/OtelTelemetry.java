package io.github.kubegrpclb.core.internal;

import static io.github.kubegrpclb.core.internal.OtelInstruments.POLICY;
import static io.github.kubegrpclb.core.internal.OtelInstruments.RESOLVER;
import static io.github.kubegrpclb.core.internal.OtelInstruments.TARGET;

import io.github.kubegrpclb.core.LbTelemetry;
import io.grpc.ConnectivityState;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.MeterProvider;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * {@link Telemetry} on the OpenTelemetry metrics API; loaded only when that API is present. It
 * makes the recorders of balancers ({@link OtelBalancerTelemetry}), resolvers ({@link
 * OtelResolverTelemetry}) and sharded channels ({@link OtelShardTelemetry}) over one meter's {@link
 * OtelInstruments}. Counters are recorded as things happen (RPC completion path,
 * SynchronizationContext); gauges are computed by callbacks when the reader collects, from state
 * the components publish safely. Thread-safe.
 */
final class OtelTelemetry implements Telemetry {
  private final OtelInstruments instruments;
  private final ExportedEndpoints exported;

  private OtelTelemetry(OtelInstruments instruments, ExportedEndpoints exported) {
    this.instruments = instruments;
    this.exported = exported;
  }

  /** Returns {@link Telemetry#NOOP} when {@code settings} has no meter provider. */
  static Telemetry create(LbTelemetry settings) {
    OpenTelemetry openTelemetry = settings.openTelemetry();
    MeterProvider provider = openTelemetry.getMeterProvider();
    if (provider == MeterProvider.noop()) {
      return NOOP;
    }
    ExportedEndpoints exported = ExportedEndpoints.of(provider, settings.endpointLimit());
    return new OtelTelemetry(
        new OtelInstruments(provider.meterBuilder("io.github.kubegrpclb").build()), exported);
  }

  @Override
  public BalancerTelemetry balancer(
      String target,
      String policy,
      Supplier<List<EndpointStatus>> endpoints,
      Supplier<ZoneSpillStatus> zoneSpill) {
    return new OtelBalancerTelemetry(
        instruments, exported, Attributes.of(TARGET, target, POLICY, policy), endpoints, zoneSpill);
  }

  @Override
  public ResolverTelemetry resolver(
      String target, String resolver, LongSupplier lastSuccessAgeNanos) {
    return new OtelResolverTelemetry(
        instruments, Attributes.of(TARGET, target, RESOLVER, resolver), lastSuccessAgeNanos);
  }

  @Override
  public ShardTelemetry sharded(
      String target,
      Supplier<Map<ConnectivityState, Integer>> shardsByState,
      IntSupplier podsReached) {
    return new OtelShardTelemetry(
        instruments, Attributes.of(TARGET, target), shardsByState, podsReached);
  }
}
