package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer.SubchannelPicker;
import javax.annotation.Nullable;

/**
 * A load-balancing policy as {@link EndpointSetLoadBalancer} runs it: a strategy that supplies the
 * per-endpoint state it keeps (peak_ewma's load), the tracers its picks carry and its picker, while
 * the balancer owns the subchannels and runs the stages before the picker. Finagle composes its
 * balancers the same way ({@code Balancer}, {@code PeakEwma} and {@code P2C} are separate traits).
 *
 * <p>The balancer calls every method in the channel's SynchronizationContext, except {@link
 * #liveLoad}, which metrics and debugging threads call.
 *
 * @param <T> per-endpoint policy state that outlives pickers
 */
interface BalancingPolicy<T> {
  /** The policy's name in a service config. */
  String name();

  /**
   * Takes the policy config of an update, already validated by the provider; null when the policy
   * was chosen by name only.
   */
  void configure(@Nullable Object policyConfig);

  /**
   * The config last {@linkplain #configure configured}: a new object only on a real change, since
   * endpoints' pick results are cached per config (compared by identity).
   */
  Object config();

  /** The shared sections of the config last {@linkplain #configure configured}. */
  BalancerConfig balancerConfig();

  /** Fresh state for a newly added endpoint. */
  T newState();

  /**
   * Forgets an endpoint's history: its connection is READY again after a failure (a new connection,
   * maybe to a restarted pod), or outlier ejection put it back in rotation on probation (whatever
   * would keep it from the RPC that ends its probation must go).
   */
  default void forget(T state) {}

  /** An endpoint's live load numbers, for snapshots and gauges; any thread. */
  default BalancerPublisher.Load liveLoad(T state) {
    return BalancerPublisher.Load.NONE;
  }

  /**
   * What the {@link RpcTracer} of each unary RPC on {@code endpoint} feeds for the policy (its
   * load), or null for a policy that measures nothing; asked once per config ({@link PickResults}).
   */
  @Nullable
  default RpcTracer.Load load(Endpoint<T> endpoint) {
    return null;
  }

  /**
   * A picker over {@code rotation}, which is non-empty; O(1) is the goal: the snapshot carries the
   * arrays a picker reads.
   *
   * @param weights slow-start weights in (0, 1], one per endpoint of {@code rotation}, or null when
   *     every weight is 1
   */
  SubchannelPicker picker(
      EndpointList.Snapshot<T> rotation, @Nullable double[] weights, boolean countingForZoneSpill);
}
