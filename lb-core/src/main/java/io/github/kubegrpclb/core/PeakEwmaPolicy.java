package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer.Helper;
import io.grpc.LoadBalancer.SubchannelPicker;
import java.util.Arrays;
import java.util.function.IntUnaryOperator;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import javax.annotation.Nullable;

/**
 * {@code peak_ewma}: power of two choices over each endpoint's cost, its peak-EWMA latency times
 * (RPCs in flight + 1), as Finagle, tower and Linkerd balance, as a {@link BalancingPolicy} of
 * {@link EndpointSetLoadBalancer}. Its per-endpoint state is an {@link PeakEwmaLoad}, fed per unary
 * RPC by a {@link PeakEwmaRecorder} from the stream's start to the first response message (or to
 * its close, for an RPC that ends without one); {@link PeakEwmaPicker} draws over it.
 *
 * <p>Called in the SynchronizationContext, except {@link #liveLoad} (any thread); its pickers are
 * immutable snapshots over thread-safe {@link PeakEwmaLoad}s.
 */
final class PeakEwmaPolicy implements BalancingPolicy<PeakEwmaLoad> {
  private final RecentClock clock;
  private final IntUnaryOperator random;
  private final FleetLatency fleet;
  private PeakEwmaConfig config = PeakEwmaConfig.defaults();
  private double[] ones = new double[0]; // weights of pickers without slow start
  private int[] coprimeStrides = new int[0]; // for choiceCount > 2: of coprimesOf
  private int coprimesOf = -1;

  /**
   * @param nanoClock monotonic nanoseconds, {@link System#nanoTime} outside tests
   * @param random returns a uniform int in {@code [0, bound)}; called from many threads at once
   */
  PeakEwmaPolicy(LongSupplier nanoClock, IntUnaryOperator random) {
    this.clock = new RecentClock(nanoClock);
    this.random = random;
    this.fleet = new FleetLatency(config.defaultRttNanos());
  }

  /** The balancer the provider builds, on the health probe and this pod's name. */
  static EndpointSetLoadBalancer<PeakEwmaLoad> balancer(
      Helper helper, LongSupplier nanoClock, IntUnaryOperator random) {
    return balancer(helper, nanoClock, random, ReadmissionProbe.INSTANCE);
  }

  /**
   * @param prober probes ejected endpoints before re-admission
   */
  static EndpointSetLoadBalancer<PeakEwmaLoad> balancer(
      Helper helper,
      LongSupplier nanoClock,
      IntUnaryOperator random,
      OutlierEjection.Prober prober) {
    return balancer(helper, nanoClock, random, prober, ClientIndex::systemHostname);
  }

  /**
   * @param hostname this pod's name, the client's identity for subsetting and zone spill
   */
  static EndpointSetLoadBalancer<PeakEwmaLoad> balancer(
      Helper helper,
      LongSupplier nanoClock,
      IntUnaryOperator random,
      OutlierEjection.Prober prober,
      Supplier<String> hostname) {
    return new EndpointSetLoadBalancer<>(
        helper, new PeakEwmaPolicy(nanoClock, random), nanoClock, random, prober, hostname);
  }

  @Override
  public String name() {
    return PeakEwmaConfig.POLICY_NAME;
  }

  @Override
  public PeakEwmaLoad newState() {
    return new PeakEwmaLoad(config.defaultRttNanos(), clock.tick());
  }

  /**
   * A reconnected endpoint is probed afresh: its failures were the old connection's. So is a
   * re-admitted one: the failure penalty that got it ejected would keep it from ever being picked,
   * so it would never earn the success that ends its probation (nor fail again and be ejected for
   * longer). Also after a client-side blip, when every endpoint reconnects: the RPCs the blip cut
   * count as failures, and keeping the estimates starved healthy pods (tried: FleetChaos seeds
   * 1-200 went from 29 to 95 runs with violations, 69 of them with a healthy pod left out).
   */
  @Override
  public void forget(PeakEwmaLoad load) {
    load.reset(config.defaultRttNanos(), clock.tick());
  }

  /** Read from metrics and debugging threads: {@code config} is an immutable object. */
  @Override
  public BalancerPublisher.Load liveLoad(PeakEwmaLoad load) {
    long now = clock.tick();
    double decayNanos = config.decayNanos();
    return new BalancerPublisher.Load(
        load.inFlight(),
        load.estimateNanos(now, decayNanos, fleet),
        load.cost(now, decayNanos, fleet));
  }

  @Override
  public void configure(@Nullable Object policyConfig) {
    PeakEwmaConfig next =
        policyConfig == null ? PeakEwmaConfig.defaults() : (PeakEwmaConfig) policyConfig;
    if (!next.equals(config)) {
      config = next; // a new instance only on a real change: endpoints cache results per config
    }
  }

  @Override
  public Object config() {
    return config;
  }

  @Override
  public BalancerConfig balancerConfig() {
    return config.balancer();
  }

  /** The fleet-wide latency state the estimates age with (for tests). */
  FleetLatency fleet() {
    return fleet;
  }

  /** Built once per config for each endpoint (see {@link PickResults}). */
  @Override
  public RpcTracer.Load load(Endpoint<PeakEwmaLoad> endpoint) {
    return new PeakEwmaRecorder(endpoint.policyState(), config, clock, fleet);
  }

  @Override
  public SubchannelPicker picker(
      EndpointList.Snapshot<PeakEwmaLoad> rotation,
      @Nullable double[] weights,
      boolean countingForZoneSpill) {
    clock.tick();
    int n = rotation.size();
    fleet.endpoints(n);
    boolean ramping = weights != null; // slow start returns null when every weight is 1
    if (weights == null) {
      if (ones.length < n) {
        ones = new double[Math.max(n, ones.length * 2)];
        Arrays.fill(ones, 1);
      }
      weights = ones; // shared by pickers: never written once filled
    }
    if (config.choiceCount() > 2 && coprimesOf != n) {
      coprimeStrides = PeakEwmaPicker.coprimesBelow(n);
      coprimesOf = n;
    }
    return new PeakEwmaPicker(
        rotation, weights, ramping, coprimeStrides, config, clock, fleet, random);
  }
}
