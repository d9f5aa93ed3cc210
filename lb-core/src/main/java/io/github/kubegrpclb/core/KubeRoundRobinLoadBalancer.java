package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.PickSubchannelArgs;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.LoadBalancer.SubchannelPicker;
import io.grpc.MethodDescriptor;
import java.util.ArrayList;
import java.util.Arrays;
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
    KubeRoundRobinConfig next =
        policyConfig instanceof KubeRoundRobinConfig
            ? (KubeRoundRobinConfig) policyConfig
            : KubeRoundRobinConfig.DEFAULTS;
    if (!next.equals(config)) {
      config = next; // a new instance only on a real change: endpoints cache results per config
    }
  }

  @Override
  OutlierEjectionConfig outlierEjectionConfig() {
    return config.outlierEjection;
  }

  @Override
  SubsettingConfig subsettingConfig() {
    return config.subsetting;
  }

  @Override
  SubchannelPicker readyPicker(List<Endpoint<Void>> rotation) {
    int n = rotation.size();
    List<Subchannel> subchannels = new ArrayList<>(n);
    PickResult[] unary = new PickResult[n];
    PickResult[] stream = new PickResult[n];
    for (int i = 0; i < n; i++) {
      Endpoint<Void> endpoint = rotation.get(i);
      PickResult[] results = endpoint.pickResults(config, this::buildResults);
      subchannels.add(endpoint.subchannel());
      unary[i] = results[0];
      stream[i] = results[1];
    }
    return new Picker(
        subchannels, config.outlierEjection.enabled ? unary : stream, stream, random.applyAsInt(n));
  }

  private PickResult[] buildResults(Endpoint<Void> endpoint) {
    PickResult stream = PickResult.withSubchannel(endpoint.subchannel());
    PickResult unary =
        config.outlierEjection.enabled
            ? PickResult.withSubchannel(
                endpoint.subchannel(),
                new OutcomeRecorder(endpoint.outcomes(), config.outlierEjection.failureCodes))
            : stream;
    return new PickResult[] {unary, stream};
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

    /**
     * @param recorders one per subchannel, or empty for no outcome recording
     */
    Picker(List<Subchannel> subchannels, List<OutcomeRecorder> recorders, int startOffset) {
      this(
          subchannels,
          results(subchannels, recorders),
          results(subchannels, List.of()),
          startOffset);
    }

    /** Over results built in advance (the same array twice when nothing is recorded). */
    Picker(
        List<Subchannel> subchannels,
        PickResult[] unaryResults,
        PickResult[] streamResults,
        int startOffset) {
      this.subchannels = subchannels;
      this.streamResults = streamResults;
      this.unaryResults = Arrays.equals(unaryResults, streamResults) ? streamResults : unaryResults;
      this.next = new AtomicInteger(startOffset);
    }

    private static PickResult[] results(
        List<Subchannel> subchannels, List<OutcomeRecorder> recorders) {
      PickResult[] results = new PickResult[subchannels.size()];
      for (int i = 0; i < results.length; i++) {
        results[i] =
            recorders.isEmpty()
                ? PickResult.withSubchannel(subchannels.get(i))
                : PickResult.withSubchannel(subchannels.get(i), recorders.get(i));
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
      return "KubeRoundRobin.Picker(" + subchannels + ")";
    }
  }
}
