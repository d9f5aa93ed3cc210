package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.PickSubchannelArgs;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.LoadBalancer.SubchannelPicker;
import io.grpc.MethodDescriptor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntUnaryOperator;
import javax.annotation.Nullable;

/**
 * {@code peak_ewma}'s picker ({@link PeakEwmaPolicy}): the cheaper of {@code choiceCount} distinct
 * random endpoints by their {@link PeakEwmaLoad} cost (the power of two choices, by default); it
 * allocates nothing and reads no clock (costs are compared as of the channel's latest RPC event,
 * see {@link RecentClock}). Unary RPCs carry the endpoint's {@link PeakEwmaRecorder}; streams carry
 * none: a stream's length is set by the application (a long poll, an upload), so it is neither a
 * latency sample nor load. An immutable snapshot over thread-safe loads: safe for any number of
 * threads, never blocks.
 */
final class PeakEwmaPicker extends SubchannelPicker {
  /** A candidate costing more than this many times the other gives up its slot. */
  static final double OUTCLASSED = 8;

  private static final int REDRAWS = 2;
  private final Object[] loads; // PeakEwmaLoad, the first size slots (see EndpointList)
  private final double[] weights; // slow start: cost is divided by the weight
  private final PickResult[] unaryResults;
  private final PickResult[] streamResults;
  private final int size;
  private final int[] coprimeStrides;
  private final PeakEwmaConfig config;
  private final double decayNanos;
  private final RecentClock clock;
  private final FleetLatency fleet;
  private final IntUnaryOperator random;
  private final EndpointList.Snapshot<PeakEwmaLoad> rotation; // for toString only
  // Slow start in a two-choice draw: WeightedDraw.cumulative of the weights, or null
  // when every weight is 1 (see twoChoices).
  @Nullable private final int[] cumulative;

  /**
   * Over {@code rotation}'s arrays, read but never copied.
   *
   * @param weights slow-start weights, at least one per endpoint; never modified afterwards
   * @param ramping whether some weight is below 1; when false every weight is 1, and a picker costs
   *     O(1) to build, not a pass over the weights (a cold start publishes a picker per endpoint)
   * @param coprimeStrides the numbers below the rotation's size coprime to it (for choiceCount
   *     above 2)
   */
  PeakEwmaPicker(
      EndpointList.Snapshot<PeakEwmaLoad> rotation,
      double[] weights,
      boolean ramping,
      int[] coprimeStrides,
      PeakEwmaConfig config,
      RecentClock clock,
      FleetLatency fleet,
      IntUnaryOperator random) {
    this.size = rotation.size();
    this.loads = rotation.states();
    this.weights = weights;
    this.unaryResults = rotation.unaryResults();
    this.streamResults = rotation.streamResults();
    this.coprimeStrides = coprimeStrides;
    this.config = config;
    this.decayNanos = config.decayNanos();
    this.clock = clock;
    this.fleet = fleet;
    this.random = random;
    this.rotation = rotation;
    this.cumulative = ramping ? WeightedDraw.cumulative(weights, size) : null;
  }

  @Override
  public PickResult pickSubchannel(PickSubchannelArgs args) {
    PickResult[] results =
        args.getMethodDescriptor().getType() == MethodDescriptor.MethodType.UNARY
            ? unaryResults
            : streamResults;
    int n = size;
    if (n == 1) {
      return results[0];
    }
    long now = clock.read();
    int choices = config.choiceCount();
    int best;
    if (choices == 2 && cumulative != null) {
      best = twoChoices(n, now); // ramping: drawn by weight, even with n <= 2 (see candidate)
    } else if (choices >= n) {
      best = cheapestOf(now, random.applyAsInt(n), 1, n);
    } else if (choices == 2) {
      best = twoChoices(n, now);
    } else {
      // k distinct indices: a random start walked with a stride coprime to n never repeats.
      int stride = coprimeStrides[random.applyAsInt(coprimeStrides.length)];
      best = cheapestOf(now, random.applyAsInt(n), stride, choices);
    }
    return results[best];
  }

  /*
   * Power of two choices (Mitzenmacher), with one change: a candidate that costs more than
   * OUTCLASSED times the other cannot win the draw, so it gives its slot to a new draw (at most
   * REDRAWS times). Without this, an endpoint that always loses (a failure penalty, a hung pod)
   * still takes a slot in 2 of n draws, and every draw that pairs it with the slowest pod sends
   * the RPC to that pod: with one such endpoint among 12, a 20 ms pod got 2 % of the RPCs. The
   * outclassed endpoint is probed again when its estimate has aged to its peers (FleetLatency).
   * Two candidates that both cost more than OUTCLASSED times the fleet's typical latency (two
   * sick pods drawn together, 2 in 90 draws with 2 of 10 sick) are no choice either: the dearer
   * gives its slot to a new draw, so the pick is never worse than the cheaper of the pair (with
   * ejection off, a failing pod paired with a hung one took 1.5-2.7 % of the RPCs).
   */
  private int twoChoices(int n, long now) {
    // Two distinct uniform indices (j from the n - 1 others), or two weighted draws (candidate).
    int i = candidate(-1, n);
    int j = candidate(i, n);
    double costI = candidateCost(i, now);
    double costJ = candidateCost(j, now);
    double offTheFleet = OUTCLASSED * fleet.typicalNanos();
    for (int redraw = 0; redraw < REDRAWS && n > 2; redraw++) {
      boolean bothOff = costI > offTheFleet && costJ > offTheFleet;
      if (costI > OUTCLASSED * costJ || (bothOff && costI >= costJ)) {
        i = candidate(j, n);
        costI = candidateCost(i, now);
      } else if (costJ > OUTCLASSED * costI || bothOff) {
        j = candidate(i, n);
        costJ = candidateCost(j, now);
      } else {
        break;
      }
    }
    return costJ < costI ? j : i;
  }

  /*
   * Slow start in the two-choice draw: a candidate is drawn in proportion to its weight, and
   * costs compare unweighted. With 2 endpoints the draws are with replacement (a pair of the same
   * endpoint has no rival), the only way to ramp when every endpoint is a candidate: costs
   * divided by the weight gave a restarted pod no RPCs until its ramp ended. With more, the
   * second candidate is distinct from the first, drawn by weight among the others. Dividing the
   * cost by the weight instead made a ramping endpoint lose every draw until its weight approached
   * 1 / OUTCLASSED of its peers' cost ratio: a restarted pod as fast as its peers got 0 of 4,003 RPCs in a second 3 s into its ramp (weight
   * 0.09; issue 25, fleet POD_CRASH). Drawn by weight, it takes about weight / sum of weights of
   * the RPCs, as kube_round_robin's ramp does, and a new endpoint is still probed first when it
   * is drawn (it costs 0 while idle).
   */
  private int candidate(int exclude, int n) {
    if (cumulative == null) {
      return exclude < 0 ? random.applyAsInt(n) : other(exclude, n);
    }
    if (n == 2) {
      return WeightedDraw.draw(cumulative, n, random); // with replacement: the only way to ramp
    }
    // Distinct from the first: a pair of the same endpoint would have no rival (a sick pod drawn
    // twice, with ejection off, took over 1 % in FleetChaos runs). Drawn by weight among the
    // others, exactly: a uniform fallback after a few redraws made a ramping pod next to two
    // serving ones a candidate 3x as often as its weight asks (review finding, PeakEwmaPickerTest).
    return exclude < 0
        ? WeightedDraw.draw(cumulative, n, random)
        : WeightedDraw.drawExcept(cumulative, n, exclude, random);
  }

  /** A candidate's cost in the two-choice draw: unweighted when candidates are drawn by weight. */
  private double candidateCost(int index, long now) {
    return cumulative == null
        ? cost(index, now)
        : ((PeakEwmaLoad) loads[index]).cost(now, decayNanos, fleet);
  }

  /** A uniform index in [0, n) other than {@code index}. */
  private int other(int index, int n) {
    int other = random.applyAsInt(n - 1);
    return other >= index ? other + 1 : other;
  }

  private int cheapestOf(long now, int start, int stride, int count) {
    int n = size;
    int best = start;
    double bestCost = cost(start, now);
    int index = start;
    for (int k = 1; k < count; k++) {
      index = (index + stride) % n;
      double cost = cost(index, now);
      if (cost < bestCost) {
        best = index;
        bestCost = cost;
      }
    }
    return best;
  }

  /**
   * An endpoint's cost divided by its slow-start weight (Envoy weighs least-request hosts the same
   * way). A new endpoint with no sample and nothing in flight costs 0 whatever its weight (it is
   * probed first); its first RPCs then cost defaultRtt x (in flight + 1) / weight.
   */
  private double cost(int index, long now) {
    return ((PeakEwmaLoad) loads[index]).cost(now, decayNanos, fleet) / weights[index];
  }

  static int[] coprimesBelow(int n) {
    int[] strides = new int[n];
    int count = 0;
    for (int s = 1; s < n; s++) {
      if (gcd(s, n) == 1) {
        strides[count++] = s;
      }
    }
    return Arrays.copyOf(strides, Math.max(count, 1));
  }

  private static int gcd(int a, int b) {
    return b == 0 ? a : gcd(b, a % b);
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
   * Same subchannels in the same order, same weights, same config: O(1) when both pickers read the
   * same slots (a rebuild with no change), O(n) only for two lists of equal length.
   */
  @Override
  public boolean equals(Object other) {
    return other instanceof PeakEwmaPicker that
        && that.size == size
        && that.config.equals(config)
        && (that.weights == weights || Arrays.equals(that.weights, 0, size, weights, 0, size))
        && EndpointList.sameSubchannels(that.streamResults, streamResults, size)
        && EndpointList.sameObjects(that.unaryResults, unaryResults, size);
  }

  @Override
  public int hashCode() {
    return subchannels().hashCode() * 31 + config.hashCode();
  }

  @Override
  public String toString() {
    return "peak_ewma picker over "
        + PickerText.endpoints(rotation)
        + ", best of "
        + config.choiceCount();
  }
}
