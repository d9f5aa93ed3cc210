package io.github.kubegrpclb.core.internal;

import io.github.kubegrpclb.core.LbTelemetry;
import io.grpc.ConnectivityState;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import javax.annotation.Nullable;

/**
 * The metrics side of an {@link LbTelemetry}: creates the recorders of balancers, resolvers and
 * sharded channels. {@link #of} returns {@link #NOOP} when the OpenTelemetry API is not on the
 * classpath, when telemetry is disabled, or when the OpenTelemetry instance has no meter provider
 * (the global one before the application sets it); only then does code touch an OpenTelemetry
 * class. Thread-safe.
 */
public interface Telemetry {
  /** Records nothing. */
  Telemetry NOOP =
      new Telemetry() {
        @Override
        public BalancerTelemetry balancer(
            String target,
            String policy,
            Supplier<List<EndpointStatus>> endpoints,
            Supplier<ZoneSpillStatus> zoneSpill) {
          return BalancerTelemetry.NOOP;
        }

        @Override
        public ResolverTelemetry resolver(
            String target, String resolver, LongSupplier lastSuccessAgeNanos) {
          return ResolverTelemetry.NOOP;
        }

        @Override
        public ShardTelemetry sharded(
            String target,
            Supplier<Map<ConnectivityState, Integer>> shardsByState,
            IntSupplier podsReached) {
          return ShardTelemetry.NOOP;
        }
      };

  /** The recorders for {@code settings}; null means {@link LbTelemetry#global()}. */
  static Telemetry of(@Nullable LbTelemetry settings) {
    LbTelemetry telemetry = settings == null ? LbTelemetry.global() : settings;
    if (!telemetry.isEnabled() || !OpenTelemetryPresence.PRESENT) {
      return NOOP;
    }
    return OtelTelemetry.create(telemetry);
  }

  /**
   * Returns the recorder of one balancer; {@code endpoints} and {@code zoneSpill} (null while no
   * zone or node preference applies) are read by the gauges' callbacks, on the metrics reader's
   * thread.
   */
  BalancerTelemetry balancer(
      String target,
      String policy,
      Supplier<List<EndpointStatus>> endpoints,
      Supplier<ZoneSpillStatus> zoneSpill);

  /**
   * Returns the recorder of one resolver ({@code kubernetes}, {@code headless}); {@code
   * lastSuccessAgeNanos} returns how long ago the resolver last knew its endpoints to be current,
   * or -1 before its first success, from any thread.
   */
  ResolverTelemetry resolver(String target, String resolver, LongSupplier lastSuccessAgeNanos);

  /**
   * Returns the recorder of one sharded channel; the suppliers are read by the gauges' callbacks,
   * from any thread. {@code podsReached} returns -1 when the channel cannot know (no pod identity
   * header), and the gauge then records nothing.
   */
  ShardTelemetry sharded(
      String target,
      Supplier<Map<ConnectivityState, Integer>> shardsByState,
      IntSupplier podsReached);
}
