package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.PolicySelection;
import io.grpc.LoadBalancer.Helper;
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
import java.util.function.Supplier;
import javax.annotation.Nullable;

/**
 * {@code kube_round_robin}: per-RPC round robin over the endpoints in rotation (ready first,
 * terminating-but-serving only as a fallback, same zone first when hinted, outliers ejected), as a
 * {@link BalancingPolicy} of {@link EndpointSetLoadBalancer}. It keeps no per-endpoint state.
 *
 * <p>Called in the SynchronizationContext; its picker is immutable apart from one atomic counter
 * and is safe for any number of threads.
 */
final class KubeRoundRobinPolicy implements BalancingPolicy<Void> {
  private final IntUnaryOperator random;
  private KubeRoundRobinConfig config = KubeRoundRobinConfig.DEFAULTS;

  /**
   * @param random returns a uniform int in {@code [0, bound)}; seeds each picker's start offset so
   *     that many clients do not all start on the same endpoint
   */
  KubeRoundRobinPolicy(IntUnaryOperator random) {
    this.random = random;
  }

  /** The balancer the provider builds, on the system clock and health probe. */
  static EndpointSetLoadBalancer<Void> balancer(Helper helper, IntUnaryOperator random) {
    return balancer(helper, random, System::nanoTime, ReadmissionProbe.INSTANCE);
  }

  /**
   * @param nanoClock times RPCs and ejections, {@link System#nanoTime} outside tests
   * @param prober probes ejected endpoints before re-admission
   */
  static EndpointSetLoadBalancer<Void> balancer(
      Helper helper,
      IntUnaryOperator random,
      LongSupplier nanoClock,
      OutlierEjection.Prober prober) {
    return balancer(helper, random, nanoClock, prober, ClientIndex::systemHostname);
  }

  /**
   * @param hostname this pod's name, the client's identity for subsetting and zone spill
   */
  static EndpointSetLoadBalancer<Void> balancer(
      Helper helper,
      IntUnaryOperator random,
      LongSupplier nanoClock,
      OutlierEjection.Prober prober,
      Supplier<String> hostname) {
    return new EndpointSetLoadBalancer<>(
        helper, new KubeRoundRobinPolicy(random), nanoClock, random, prober, hostname);
  }

  @Override
  public String name() {
    return PolicySelection.KUBE_ROUND_ROBIN;
  }

  @Override
  public Void newState() {
    return null;
  }

  @Override
  public void configure(@Nullable Object policyConfig) {
    KubeRoundRobinConfig next =
        policyConfig instanceof KubeRoundRobinConfig parsed
            ? parsed
            : KubeRoundRobinConfig.DEFAULTS;
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
    return config.balancer;
  }

  @Override
  public SubchannelPicker picker(
      EndpointList.Snapshot<Void> rotation,
      @Nullable double[] weights,
      boolean countingForZoneSpill) {
    return new Picker(
        config.balancer.outlierEjection().enabled || countingForZoneSpill
            ? rotation.unaryResults()
            : rotation.streamResults(),
        rotation.streamResults(),
        rotation.size(),
        weights,
        random,
        random.applyAsInt(rotation.size()));
  }

  /**
   * Lock-free round robin; results are built once so a pick allocates nothing. An endpoint in slow
   * start (weight below 1) keeps its turn with probability {@code weight}; a turn it passes goes to
   * an endpoint drawn at random in proportion to every endpoint's weight, so the share a ramping
   * endpoint does not take yet is spread over all the others in proportion, never onto its
   * neighbour. Unary RPCs carry the endpoint's outcome recorder (when outlier ejection is on);
   * streams never do: how long a stream lasts, and how it ends, is the application's business.
   */
  static final class Picker extends SubchannelPicker {
    /*
     * Shares: endpoint k gets its own turn (1/n of picks) with probability w_k, and of the passed
     * turns (1 - W/n of picks, W the sum of the weights) a fraction w_k / W: w_k/n + (1 - W/n) w_k/W
     * = w_k / W, exactly proportional to its weight. The draw is a binary search over cumulative
     * weights, O(log n) and allocation-free, and happens only for a passed turn. Passing the turn to
     * the next endpoint instead (as before) gave the endpoint after a block of new ones every turn
     * the block passed: 52.6 % of all RPCs in a 10 -> 20 pod scale-up (issue 25).
     */
    private final PickResult[] unaryResults;
    private final PickResult[] streamResults;
    private final int size; // the results' first size slots are this picker's (see EndpointList)
    private final AtomicInteger next;
    // Per endpoint, out of 2^20; null when every weight is 1.
    @Nullable private final int[] keepTurn;
    // WeightedDraw.cumulative of the weights; null exactly when keepTurn is.
    @Nullable private final int[] cumulative;
    private final IntUnaryOperator random;

    /**
     * @param recorders one per subchannel, or empty for no outcome recording
     * @param weights slow-start weights in (0, 1], one per subchannel, or null for all 1
     */
    Picker(
        List<Subchannel> subchannels,
        List<RpcTracer> recorders,
        @Nullable double[] weights,
        IntUnaryOperator random,
        int startOffset) {
      this(
          sharedIfEqual(results(subchannels, recorders), results(subchannels, List.of())),
          results(subchannels, List.of()),
          subchannels.size(),
          weights,
          random,
          startOffset);
    }

    /**
     * Over results built in advance, read but never copied (the same array twice when nothing is
     * recorded).
     *
     * @param size how many of the results' first slots the picker uses
     */
    Picker(
        PickResult[] unaryResults,
        PickResult[] streamResults,
        int size,
        @Nullable double[] weights,
        IntUnaryOperator random,
        int startOffset) {
      this.unaryResults = unaryResults;
      this.streamResults = streamResults;
      this.size = size;
      this.random = random;
      if (weights == null) {
        this.keepTurn = null;
        this.cumulative = null;
      } else {
        this.keepTurn = new int[size];
        for (int i = 0; i < size; i++) {
          keepTurn[i] = (int) Math.ceil(weights[i] * (1 << 20));
        }
        this.cumulative = WeightedDraw.cumulative(weights, size);
      }
      this.next = new AtomicInteger(startOffset);
    }

    private static PickResult[] results(List<Subchannel> subchannels, List<RpcTracer> recorders) {
      PickResult[] results = new PickResult[subchannels.size()];
      for (int i = 0; i < results.length; i++) {
        results[i] =
            recorders.isEmpty()
                ? PickResult.withSubchannel(subchannels.get(i))
                : PickResult.withSubchannel(subchannels.get(i), recorders.get(i));
      }
      return results;
    }

    private static PickResult[] sharedIfEqual(PickResult[] unary, PickResult[] stream) {
      return Arrays.equals(unary, stream) ? stream : unary;
    }

    @Override
    public PickResult pickSubchannel(PickSubchannelArgs args) {
      int index = Math.floorMod(next.getAndIncrement(), size);
      if (keepTurn != null && cumulative != null && random.applyAsInt(1 << 20) >= keepTurn[index]) {
        index = WeightedDraw.draw(cumulative, size, random);
      }
      if (unaryResults != streamResults
          && args.getMethodDescriptor().getType() != MethodDescriptor.MethodType.UNARY) {
        return streamResults[index];
      }
      return unaryResults[index];
    }

    /** The endpoints this picker picks from (for tests and diagnostics). */
    List<Subchannel> subchannels() {
      List<Subchannel> subchannels = new ArrayList<>(size);
      for (int i = 0; i < size; i++) {
        subchannels.add(streamResults[i].getSubchannel());
      }
      return subchannels;
    }

    /**
     * Same subchannels in the same order, same weights, same recording: O(1) when both pickers read
     * the same slots (a rebuild with no change), O(n) only for two lists of equal length.
     */
    // Compares whether each picker shares one result array for both RPC kinds, on purpose.
    @SuppressWarnings({"EqualsWrongThing", "ReferenceEquality"})
    @Override
    public boolean equals(Object other) {
      return other instanceof Picker that
          && that.size == size
          && (that.unaryResults == that.streamResults) == (unaryResults == streamResults)
          && Arrays.equals(that.keepTurn, keepTurn)
          && EndpointList.sameSubchannels(that.streamResults, streamResults, size)
          && EndpointList.sameObjects(that.unaryResults, unaryResults, size);
    }

    @Override
    public int hashCode() {
      return subchannels().hashCode();
    }

    @Override
    public String toString() {
      return "kube_round_robin picker over " + size + " endpoints";
    }
  }
}
