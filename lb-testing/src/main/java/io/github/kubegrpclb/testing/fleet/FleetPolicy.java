package io.github.kubegrpclb.testing.fleet;

import io.grpc.Attributes;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerProvider;
import io.grpc.NameResolver.ConfigOrError;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.IntUnaryOperator;
import java.util.function.LongSupplier;

/**
 * The policy a fleet simulation runs: its provider (which parses the JSON config, exactly as the
 * channel does), a factory that builds the same balancer the provider builds but on the
 * simulation's clock and seeded randomness, and the attribute keys the policy reads topology from.
 * Immutable and thread-safe.
 */
public final class FleetPolicy {
  /** Builds the balancer under test; called once per simulation, in its SynchronizationContext. */
  @FunctionalInterface
  public interface BalancerFactory {
    LoadBalancer newBalancer(
        LoadBalancer.Helper helper, LongSupplier nanoClock, IntUnaryOperator random);
  }

  private final LoadBalancerProvider provider;
  private final BalancerFactory factory;
  private final Attributes.Key<Set<String>> zoneHints;
  private final Attributes.Key<String> clientZone;
  private final boolean latencyAware;

  private FleetPolicy(
      LoadBalancerProvider provider,
      BalancerFactory factory,
      Attributes.Key<Set<String>> zoneHints,
      Attributes.Key<String> clientZone,
      boolean latencyAware) {
    this.provider = Objects.requireNonNull(provider, "provider");
    this.factory = Objects.requireNonNull(factory, "factory");
    this.zoneHints = Objects.requireNonNull(zoneHints, "zoneHints");
    this.clientZone = Objects.requireNonNull(clientZone, "clientZone");
    this.latencyAware = latencyAware;
  }

  /**
   * A policy under test.
   *
   * @param provider the policy's registered provider: its name and config parser are used as is
   * @param factory builds what {@code provider.newLoadBalancer} builds, with the clock and random
   *     source injected (the provider wires the system ones)
   * @param zoneHints the per-endpoint attribute holding an endpoint's zone hints
   * @param clientZone the per-resolution attribute holding the client's zone
   * @param latencyAware whether the policy steers by latency (then a slow pod counts as sick even
   *     with outlier ejection off)
   */
  public static FleetPolicy of(
      LoadBalancerProvider provider,
      BalancerFactory factory,
      Attributes.Key<Set<String>> zoneHints,
      Attributes.Key<String> clientZone,
      boolean latencyAware) {
    return new FleetPolicy(provider, factory, zoneHints, clientZone, latencyAware);
  }

  public String name() {
    return provider.getPolicyName();
  }

  boolean latencyAware() {
    return latencyAware;
  }

  Attributes.Key<Set<String>> zoneHints() {
    return zoneHints;
  }

  Attributes.Key<String> clientZone() {
    return clientZone;
  }

  LoadBalancer newBalancer(
      LoadBalancer.Helper helper, LongSupplier nanoClock, IntUnaryOperator random) {
    return factory.newBalancer(helper, nanoClock, random);
  }

  /** Parses {@code json} with the provider; a config it rejects is a harness bug: throws. */
  Object parse(Map<String, ?> json) {
    ConfigOrError parsed = provider.parseLoadBalancingPolicyConfig(json);
    if (parsed.getError() != null) {
      throw new IllegalArgumentException(
          name() + " rejected the harness's config " + json + ": " + parsed.getError());
    }
    return parsed.getConfig();
  }

  @Override
  public String toString() {
    return name();
  }
}
