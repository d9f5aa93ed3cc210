package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.github.kubegrpclb.core.internal.PolicySelection;
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
import java.util.function.LongSupplier;

/**
 * {@code kube_round_robin}: per-RPC round robin over the endpoints in rotation (ready first,
 * terminating-but-serving only as a fallback, same zone first when hinted, outliers ejected).
 *
 * <p>Balancer state changes run in the SynchronizationContext (see {@link
 * EndpointSetLoadBalancer}); the picker is immutable apart from one atomic counter and is safe for
 * any number of threads.
 */
final class KubeRoundRobinLoadBalancer extends EndpointSetLoadBalancer<Void> {
  private final IntUnaryOperator random;
  private final LongSupplier nanoClock;
  private KubeRoundRobinConfig config = KubeRoundRobinConfig.DEFAULTS;

  /**
   * @param random returns a uniform int in {@code [0, bound)}; seeds each picker's start offset so
   *     that many clients do not all start on the same endpoint
   */
  KubeRoundRobinLoadBalancer(Helper helper, IntUnaryOperator random) {
    this(helper, random, System::nanoTime, HealthProbe.INSTANCE);
  }

  /**
   * @param nanoClock times RPCs for outlier ejection, {@link System#nanoTime} outside tests
   * @param prober probes ejected endpoints before re-admission
   */
  KubeRoundRobinLoadBalancer(
      Helper helper,
      IntUnaryOperator random,
      LongSupplier nanoClock,
      OutlierEjection.Prober prober) {
    super(helper, PolicySelection.KUBE_ROUND_ROBIN, nanoClock, prober);
    this.random = random;
    this.nanoClock = nanoClock;
  }

  @Override
  Void newPolicyState() {
    return null;
  }

  @Override
  void configure(Object policyConfig) {
    KubeRoundRobinConfig next =
        policyConfig instanceof KubeRoundRobinConfig parsed
            ? parsed
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
  SlowStartConfig slowStartConfig() {
    return config.slowStart;
  }

  @Override
  ZoneSpillConfig zoneSpillConfig() {
    return config.zoneSpill;
  }

  @Override
  SubchannelPicker readyPicker(List<Endpoint<Void>> rotation) {
    int n = rotation.size();
    List<Subchannel> subchannels = new ArrayList<>(n);
    PickResult[] unary = new PickResult[n];
    PickResult[] stream = new PickResult[n];
    double[] weights = null;
    for (int i = 0; i < n; i++) {
      Endpoint<Void> endpoint = rotation.get(i);
      if (endpoint.weight < 1) {
        if (weights == null) {
          weights = new double[n];
          Arrays.fill(weights, 1);
        }
        weights[i] = endpoint.weight;
      }
      PickResult[] results = endpoint.pickResults(resultsKey(config), this::buildResults);
      subchannels.add(endpoint.subchannel());
      unary[i] = results[0];
      stream[i] = results[1];
    }
    return new Picker(
        subchannels,
        config.outlierEjection.enabled || isCountingForZoneSpill() ? unary : stream,
        stream,
        weights,
        random,
        random.applyAsInt(n));
  }

  private PickResult[] buildResults(Endpoint<Void> endpoint) {
    boolean recording = isRecordingRpcs();
    PickResult stream =
        recording
            ? PickResult.withSubchannel(endpoint.subchannel(), RpcCounter.of(endpoint.telemetry()))
            : PickResult.withSubchannel(endpoint.subchannel());
    boolean counting = isCountingForZoneSpill();
    EndpointTelemetry unaryTelemetry =
        counting || recording ? unaryTelemetry(endpoint) : EndpointTelemetry.NOOP;
    PickResult unary;
    if (config.outlierEjection.enabled) {
      unary =
          PickResult.withSubchannel(
              endpoint.subchannel(),
              new OutcomeRecorder(
                  endpoint.outcomes(),
                  config.outlierEjection.failureCodes,
                  nanoClock,
                  unaryTelemetry));
    } else if (counting) {
      unary = PickResult.withSubchannel(endpoint.subchannel(), RpcCounter.of(unaryTelemetry));
    } else {
      unary = stream;
    }
    return new PickResult[] {unary, stream};
  }

  /**
   * Lock-free round robin; results are built once so a pick allocates nothing. An endpoint in slow
   * start (weight below 1) keeps its turn with probability {@code weight} and passes it to the next
   * endpoint otherwise. Unary RPCs carry the endpoint's outcome recorder (when outlier ejection is
   * on); streams never do: how long a stream lasts, and how it ends, is the application's business.
   */
  static final class Picker extends SubchannelPicker {
    private final List<Subchannel> subchannels;
    private final PickResult[] unaryResults;
    private final PickResult[] streamResults;
    private final AtomicInteger next;
    private final int[] keepTurn; // per endpoint, out of 2^20; null when every weight is 1
    private final IntUnaryOperator random;

    /**
     * @param recorders one per subchannel, or empty for no outcome recording
     * @param weights slow-start weights in (0, 1], one per subchannel, or null for all 1
     */
    Picker(
        List<Subchannel> subchannels,
        List<OutcomeRecorder> recorders,
        double[] weights,
        IntUnaryOperator random,
        int startOffset) {
      this(
          List.copyOf(subchannels),
          results(subchannels, recorders),
          results(subchannels, List.of()),
          weights,
          random,
          startOffset);
    }

    /** Over results built in advance (the same array twice when nothing is recorded). */
    Picker(
        List<Subchannel> subchannels,
        PickResult[] unaryResults,
        PickResult[] streamResults,
        double[] weights,
        IntUnaryOperator random,
        int startOffset) {
      this.subchannels = subchannels;
      this.random = random;
      if (weights == null) {
        this.keepTurn = null;
      } else {
        this.keepTurn = new int[weights.length];
        for (int i = 0; i < weights.length; i++) {
          keepTurn[i] = (int) Math.ceil(weights[i] * (1 << 20));
        }
      }
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
      if (keepTurn != null) {
        for (int tries = 0;
            tries < keepTurn.length && random.applyAsInt(1 << 20) >= keepTurn[index];
            tries++) {
          index = index + 1 == keepTurn.length ? 0 : index + 1;
        }
      }
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

    // Compares whether each picker shares one result array for both RPC kinds, on purpose.
    @SuppressWarnings("EqualsWrongThing")
    @Override
    public boolean equals(Object other) {
      return other instanceof Picker that
          && that.subchannels.equals(subchannels)
          && java.util.Arrays.equals(that.keepTurn, keepTurn)
          && Arrays.equals(that.unaryResults, unaryResults)
          && (that.unaryResults == that.streamResults) == (unaryResults == streamResults);
    }

    @Override
    public int hashCode() {
      return subchannels.hashCode();
    }

    @Override
    public String toString() {
      return "kube_round_robin picker over " + subchannels.size() + " endpoints";
    }
  }
}
