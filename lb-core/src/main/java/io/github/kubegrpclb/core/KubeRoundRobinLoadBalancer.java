package io.github.kubegrpclb.core;

import io.grpc.ClientStreamTracer;
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
  static final String POLICY_NAME = "kube_round_robin";

  private final IntUnaryOperator random;

  /**
   * @param random returns a uniform int in {@code [0, bound)}; seeds each picker's start offset so
   *     that many clients do not all start on the same endpoint
   */
  KubeRoundRobinLoadBalancer(Helper helper, IntUnaryOperator random) {
    super(helper, POLICY_NAME);
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
    List<ClientStreamTracer.Factory> tracers = new ArrayList<>(rotation.size());
    boolean recording = isRecordingRpcs();
    for (Endpoint<Void> endpoint : rotation) {
      subchannels.add(endpoint.subchannel());
      tracers.add(recording ? RpcCounter.of(endpoint.telemetry()) : null);
    }
    return new Picker(
        subchannels,
        tracers,
        random.applyAsInt(subchannels.size()),
        PickerText.endpoints(rotation));
  }

  /** Lock-free round robin; results are built once so a pick allocates nothing. */
  static final class Picker extends SubchannelPicker {
    private final List<Subchannel> subchannels;
    private final PickResult[] results;
    private final AtomicInteger next;
    private final String description;

    Picker(List<Subchannel> subchannels, int startOffset) {
      this(
          subchannels,
          java.util.Collections.nCopies(subchannels.size(), null),
          startOffset,
          subchannels.size() + " endpoints");
    }

    /**
     * @param tracers per subchannel, the stream tracer its picks carry, or null for none
     * @param description the endpoints, for {@link #toString()}
     */
    Picker(
        List<Subchannel> subchannels,
        List<ClientStreamTracer.Factory> tracers,
        int startOffset,
        String description) {
      this.description = description;
      this.subchannels = List.copyOf(subchannels);
      this.results = new PickResult[subchannels.size()];
      for (int i = 0; i < results.length; i++) {
        ClientStreamTracer.Factory tracer = tracers.get(i);
        results[i] =
            tracer == null
                ? PickResult.withSubchannel(subchannels.get(i))
                : PickResult.withSubchannel(subchannels.get(i), tracer);
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
      return "kube_round_robin picker over " + description;
    }
  }
}
