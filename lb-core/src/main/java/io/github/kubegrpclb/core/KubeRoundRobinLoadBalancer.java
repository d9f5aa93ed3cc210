package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.ClientStreamTracer;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.PickSubchannelArgs;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.LoadBalancer.SubchannelPicker;
import io.grpc.MethodDescriptor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntUnaryOperator;

/**
 * {@code kube_round_robin}: per-RPC round robin over the endpoints in rotation (ready first,
 * terminating-but-serving only as a fallback, same zone first when hinted, outliers ejected).
 *
 * <p>Balancer state changes run in the SynchronizationContext (see {@link
 * EndpointSetLoadBalancer}); the picker is immutable apart from one atomic counter and is safe for
 * any number of threads.
 */
final class KubeRoundRobinLoadBalancer extends EndpointSetLoadBalancer<Void> {
  static final String POLICY_NAME = "kube_round_robin";

  private final IntUnaryOperator random;
  private KubeRoundRobinConfig config = KubeRoundRobinConfig.DEFAULTS;

  /**
   * @param random returns a uniform int in {@code [0, bound)}; seeds each picker's start offset so
   *     that many clients do not all start on the same endpoint
   */
  KubeRoundRobinLoadBalancer(Helper helper, IntUnaryOperator random) {
    this(helper, random, HealthProbe.INSTANCE);
  }

  KubeRoundRobinLoadBalancer(
      Helper helper, IntUnaryOperator random, OutlierEjection.Prober prober) {
    super(helper, POLICY_NAME, prober);
    this.random = random;
  }

  @Override
  Void newPolicyState() {
    return null;
  }

  @Override
  void configure(Object policyConfig) {
    config =
        policyConfig instanceof KubeRoundRobinConfig
            ? (KubeRoundRobinConfig) policyConfig
            : KubeRoundRobinConfig.DEFAULTS;
  }

  @Override
  OutlierEjectionConfig outlierEjectionConfig() {
    return config.outlierEjection;
  }

  @Override
  SubchannelPicker readyPicker(List<Endpoint<Void>> rotation) {
    List<Subchannel> subchannels = new ArrayList<>(rotation.size());
    List<ClientStreamTracer.Factory> unaryTracers = new ArrayList<>(rotation.size());
    List<ClientStreamTracer.Factory> streamTracers = new ArrayList<>(rotation.size());
    boolean recording = isRecordingRpcs();
    for (Endpoint<Void> endpoint : rotation) {
      subchannels.add(endpoint.subchannel());
      ClientStreamTracer.Factory counter = recording ? RpcCounter.of(endpoint.telemetry()) : null;
      streamTracers.add(counter);
      unaryTracers.add(
          config.outlierEjection.enabled
              ? new OutcomeRecorder(
                  endpoint.outcomes(),
                  config.outlierEjection.failureCodes,
                  recording ? endpoint.telemetry() : EndpointTelemetry.NOOP)
              : counter);
    }
    return new Picker(
        subchannels,
        unaryTracers,
        streamTracers,
        random.applyAsInt(subchannels.size()),
        PickerText.endpoints(rotation));
  }

  /**
   * Lock-free round robin; results are built once so a pick allocates nothing. Unary RPCs carry the
   * endpoint's outcome recorder (when outlier ejection is on); streams never do: how long a stream
   * lasts, and how it ends, is the application's business.
   */
  static final class Picker extends SubchannelPicker {
    private final List<Subchannel> subchannels;
    private final PickResult[] unaryResults;
    private final PickResult[] streamResults;
    private final AtomicInteger next;
    private final String description;

    /**
     * @param recorders one per subchannel, or empty for no outcome recording
     */
    Picker(List<Subchannel> subchannels, List<OutcomeRecorder> recorders, int startOffset) {
      this(
          subchannels,
          recorders.isEmpty() ? Collections.nCopies(subchannels.size(), null) : recorders,
          Collections.nCopies(subchannels.size(), null),
          startOffset,
          subchannels.size() + " endpoints");
    }

    /**
     * @param unaryTracers per subchannel, the tracer its unary picks carry, or null for none
     * @param streamTracers per subchannel, the tracer its other picks carry, or null for none
     * @param description the endpoints, for {@link #toString()}
     */
    Picker(
        List<Subchannel> subchannels,
        List<? extends ClientStreamTracer.Factory> unaryTracers,
        List<? extends ClientStreamTracer.Factory> streamTracers,
        int startOffset,
        String description) {
      this.subchannels = List.copyOf(subchannels);
      this.description = description;
      this.streamResults = results(subchannels, streamTracers);
      this.unaryResults =
          unaryTracers.equals(streamTracers) ? streamResults : results(subchannels, unaryTracers);
      this.next = new AtomicInteger(startOffset);
    }

    private static PickResult[] results(
        List<Subchannel> subchannels, List<? extends ClientStreamTracer.Factory> tracers) {
      PickResult[] results = new PickResult[subchannels.size()];
      for (int i = 0; i < results.length; i++) {
        ClientStreamTracer.Factory tracer = tracers.get(i);
        results[i] =
            tracer == null
                ? PickResult.withSubchannel(subchannels.get(i))
                : PickResult.withSubchannel(subchannels.get(i), tracer);
      }
      return results;
    }

    @Override
    public PickResult pickSubchannel(PickSubchannelArgs args) {
      int index = Math.floorMod(next.getAndIncrement(), unaryResults.length);
      if (unaryResults != streamResults
          && args.getMethodDescriptor().getType() != MethodDescriptor.MethodType.UNARY) {
        return streamResults[index];
      }
      return unaryResults[index];
    }

    /** The endpoints this picker picks from (for tests and diagnostics). */
    List<Subchannel> subchannels() {
      return subchannels;
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof Picker
          && ((Picker) other).subchannels.equals(subchannels)
          && (((Picker) other).unaryResults == ((Picker) other).streamResults)
              == (unaryResults == streamResults);
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
