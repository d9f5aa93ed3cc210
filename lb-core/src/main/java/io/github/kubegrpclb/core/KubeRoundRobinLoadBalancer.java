package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.PolicySelection;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.PickSubchannelArgs;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.LoadBalancer.SubchannelPicker;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntUnaryOperator;

/**
 * {@code kube_round_robin}: per-RPC round robin over the endpoints in rotation (ready first,
 * terminating-but-serving only as a fallback, same zone first when hinted).
 *
 * <p>Balancer state changes run in the SynchronizationContext (see {@link
 * EndpointSetLoadBalancer}); the picker is immutable apart from one atomic counter and is safe for
 * any number of threads.
 */
final class KubeRoundRobinLoadBalancer extends EndpointSetLoadBalancer<Void> {
  private final IntUnaryOperator random;

  /**
   * @param random returns a uniform int in {@code [0, bound)}; seeds each picker's start offset so
   *     that many clients do not all start on the same endpoint
   */
  KubeRoundRobinLoadBalancer(Helper helper, IntUnaryOperator random) {
    super(helper, PolicySelection.KUBE_ROUND_ROBIN);
    this.random = random;
  }

  @Override
  Void newPolicyState() {
    return null;
  }

  @Override
  void configure(Object policyConfig) {}

  @Override
  SubchannelPicker readyPicker(List<Endpoint<Void>> rotation) {
    List<Subchannel> subchannels = new ArrayList<>(rotation.size());
    for (Endpoint<Void> endpoint : rotation) {
      subchannels.add(endpoint.subchannel());
    }
    return new Picker(subchannels, random.applyAsInt(subchannels.size()));
  }

  /** Lock-free round robin; results are built once so a pick allocates nothing. */
  static final class Picker extends SubchannelPicker {
    private final List<Subchannel> subchannels;
    private final PickResult[] results;
    private final AtomicInteger next;

    Picker(List<Subchannel> subchannels, int startOffset) {
      this.subchannels = List.copyOf(subchannels);
      this.results = new PickResult[subchannels.size()];
      for (int i = 0; i < results.length; i++) {
        results[i] = PickResult.withSubchannel(subchannels.get(i));
      }
      this.next = new AtomicInteger(startOffset);
    }

    @Override
    public PickResult pickSubchannel(PickSubchannelArgs args) {
      return results[Math.floorMod(next.getAndIncrement(), results.length)];
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof Picker && ((Picker) other).subchannels.equals(subchannels);
    }

    @Override
    public int hashCode() {
      return subchannels.hashCode();
    }

    @Override
    public String toString() {
      return "KubeRoundRobin.Picker(" + subchannels + ")";
    }
  }
}
