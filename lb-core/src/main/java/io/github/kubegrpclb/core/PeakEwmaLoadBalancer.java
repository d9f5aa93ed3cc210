package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.PickSubchannelArgs;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.LoadBalancer.SubchannelPicker;
import io.grpc.MethodDescriptor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.IntUnaryOperator;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import javax.annotation.Nullable;

/**
 * {@code peak_ewma}: power of two choices over each endpoint's cost, its peak-EWMA latency times
 * (RPCs in flight + 1), as Finagle, tower and Linkerd balance. Latency is measured per unary RPC by
 * a stream tracer, from the stream's start to the first response message (or to its close, for an
 * RPC that ends without one); see {@link EndpointLoad} for the cost model.
 *
 * <p>Balancer state changes run in the SynchronizationContext (see {@link
 * EndpointSetLoadBalancer}); the picker is an immutable snapshot over thread-safe {@link
 * EndpointLoad}s and never blocks.
 */
final class PeakEwmaLoadBalancer extends EndpointSetLoadBalancer<EndpointLoad> {
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
  PeakEwmaLoadBalancer(Helper helper, LongSupplier nanoClock, IntUnaryOperator random) {
    this(helper, nanoClock, random, HealthProbe.INSTANCE);
  }

  PeakEwmaLoadBalancer(
      Helper helper,
      LongSupplier nanoClock,
      IntUnaryOperator random,
      OutlierEjection.Prober prober) {
    this(helper, nanoClock, random, prober, ClientIndex::systemHostname);
  }

  /**
   * @param hostname this pod's name, the client's identity for subsetting and zone spill
   */
  PeakEwmaLoadBalancer(
      Helper helper,
      LongSupplier nanoClock,
      IntUnaryOperator random,
      OutlierEjection.Prober prober,
      Supplier<String> hostname) {
    super(helper, PeakEwmaConfig.POLICY_NAME, nanoClock, prober, hostname);
    this.clock = new RecentClock(nanoClock);
    this.random = random;
    this.fleet = new FleetLatency(config.defaultRttNanos());
    useRandom(random);
  }

  @Override
  EndpointLoad newPolicyState() {
    return new EndpointLoad(config.defaultRttNanos(), clock.tick());
  }

  /** A reconnected endpoint is probed afresh: its failures were the old connection's. */
  @Override
  void onReconnected(Endpoint<EndpointLoad> endpoint) {
    endpoint.policyState().reset(config.defaultRttNanos(), clock.tick());
  }

  /**
   * A re-admitted endpoint is probed afresh: the failure penalty that got it ejected would keep it
   * from ever being picked, so it would never earn the success that ends its probation (nor fail
   * again and be ejected for longer).
   */
  @Override
  void onReadmitted(Endpoint<EndpointLoad> endpoint) {
    endpoint.policyState().reset(config.defaultRttNanos(), clock.tick());
  }

  /** Read from metrics and debugging threads: {@code config} is an immutable object. */
  @Override
  BalancerObserver.Load liveLoad(EndpointLoad load) {
    long now = clock.tick();
    double decayNanos = config.decayNanos();
    return new BalancerObserver.Load(
        load.inFlight(),
        load.estimateNanos(now, decayNanos, fleet),
        load.cost(now, decayNanos, fleet));
  }

  @Override
  void configure(@Nullable Object policyConfig) {
    PeakEwmaConfig next =
        policyConfig == null ? PeakEwmaConfig.defaults() : (PeakEwmaConfig) policyConfig;
    if (!next.equals(config)) {
      config = next; // a new instance only on a real change: endpoints cache results per config
    }
  }

  @Override
  BalancerConfig balancerConfig() {
    return config.balancer();
  }

  /** The fleet-wide latency state the estimates age with (for tests). */
  FleetLatency fleet() {
    return fleet;
  }

  /** The load of the endpoint whose subchannel is {@code subchannel} (for tests). */
  EndpointLoad loadOf(Subchannel subchannel) {
    return Objects.requireNonNull(endpointFor(subchannel), "not this balancer's subchannel")
        .policyState();
  }

  @Override
  PickResult[] pickResults(Endpoint<EndpointLoad> endpoint) {
    PeakEwmaConfig current = config;
    boolean recording = isRecordingRpcs();
    return endpoint.pickResults(
        resultsKey(current),
        e -> Picker.buildResults(e, current, clock, fleet, recording, unaryTelemetry(e)));
  }

  @Override
  SubchannelPicker readyPicker(
      EndpointList.Snapshot<EndpointLoad> rotation, @Nullable double[] weights) {
    clock.tick();
    int n = rotation.size();
    fleet.endpoints(n);
    if (weights == null) {
      if (ones.length < n) {
        ones = new double[Math.max(n, ones.length * 2)];
        Arrays.fill(ones, 1);
      }
      weights = ones; // shared by pickers: never written once filled
    }
    if (config.choiceCount() > 2 && coprimesOf != n) {
      coprimeStrides = Picker.coprimesBelow(n);
      coprimesOf = n;
    }
    return new Picker(rotation, weights, coprimeStrides, config, clock, fleet, random);
  }

  /**
   * Picks the cheaper of {@code choiceCount} distinct random endpoints; allocates nothing and reads
   * no clock (costs are compared as of the channel's latest RPC event, see {@link RecentClock}).
   * Unary RPCs carry the endpoint's {@link PeakEwmaRecorder}; streams carry none: a stream's length
   * is set by the application (a long poll, an upload), so it is neither a latency sample nor load.
   */
  static final class Picker extends SubchannelPicker {
    /** A candidate costing more than this many times the other gives up its slot. */
    static final double OUTCLASSED = 8;

    private static final int REDRAWS = 2;
    // Weighted draws of a second candidate distinct from the first before a uniform one.
    private static final int DISTINCT_DRAWS = 4;
    private final Object[] loads; // EndpointLoad, the first size slots (see EndpointList)
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
    private final EndpointList.Snapshot<EndpointLoad> rotation; // for toString only
    // Slow start in a two-choice draw: WeightedDraw.cumulative of the weights, or null
    // when every weight is 1 (see twoChoices).
    @Nullable private final int[] cumulative;

    /**
     * Over {@code rotation}'s arrays, read but never copied.
     *
     * @param weights slow-start weights, at least one per endpoint; never modified afterwards
     * @param coprimeStrides the numbers below the rotation's size coprime to it (for choiceCount
     *     above 2)
     */
    Picker(
        EndpointList.Snapshot<EndpointLoad> rotation,
        double[] weights,
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
      this.cumulative = cumulativeWeights(weights, size);
    }

    /** Running sums of the weights (a full weight is 2^30 / size units), or null if all are 1. */
    @Nullable
    private static int[] cumulativeWeights(double[] weights, int size) {
      boolean ramping = false;
      for (int i = 0; i < size; i++) {
        ramping |= weights[i] < 1;
      }
      if (!ramping) {
        return null;
      }
      return WeightedDraw.cumulative(weights, size);
    }

    /**
     * Telemetry is fixed before the first endpoint is added, so the config (and whether zone spill
     * counts RPCs, see {@code resultsKey}) keys the results.
     */
    static PickResult[] buildResults(
        Endpoint<EndpointLoad> endpoint,
        PeakEwmaConfig config,
        RecentClock clock,
        FleetLatency fleet,
        boolean recording,
        EndpointTelemetry unaryTelemetry) {
      OutcomeCounts outcomes =
          config.balancer().outlierEjection().enabled ? endpoint.outcomes() : null;
      return new PickResult[] {
        PickResult.withSubchannel(
            endpoint.subchannel(),
            new PeakEwmaRecorder(
                endpoint.policyState(), outcomes, unaryTelemetry, config, clock, fleet)),
        recording
            ? PickResult.withSubchannel(endpoint.subchannel(), RpcCounter.of(endpoint.telemetry()))
            : PickResult.withSubchannel(endpoint.subchannel())
      };
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
     * second candidate is distinct from the first. Dividing the cost by the weight instead made a ramping endpoint
     * lose every draw until its weight approached 1 / OUTCLASSED of its peers' cost ratio: a
     * restarted pod as fast as its peers got 0 of 4,003 RPCs in a second 3 s into its ramp (weight
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
      // twice, with ejection off, took over 1 % in FleetChaos runs).
      for (int attempt = 0; attempt < DISTINCT_DRAWS; attempt++) {
        int drawn = WeightedDraw.draw(cumulative, n, random);
        if (drawn != exclude) {
          return drawn;
        }
      }
      return exclude < 0 ? random.applyAsInt(n) : other(exclude, n);
    }

    /**
     * A candidate's cost in the two-choice draw: unweighted when candidates are drawn by weight.
     */
    private double candidateCost(int index, long now) {
      return cumulative == null
          ? cost(index, now)
          : ((EndpointLoad) loads[index]).cost(now, decayNanos, fleet);
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
     * An endpoint's cost divided by its slow-start weight (Envoy weighs least-request hosts the
     * same way). A new endpoint with no sample and nothing in flight costs 0 whatever its weight
     * (it is probed first); its first RPCs then cost defaultRtt x (in flight + 1) / weight.
     */
    private double cost(int index, long now) {
      return ((EndpointLoad) loads[index]).cost(now, decayNanos, fleet) / weights[index];
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
     * Same subchannels in the same order, same weights, same config: O(1) when both pickers read
     * the same slots (a rebuild with no change), O(n) only for two lists of equal length.
     */
    @Override
    public boolean equals(Object other) {
      return other instanceof Picker that
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
}
