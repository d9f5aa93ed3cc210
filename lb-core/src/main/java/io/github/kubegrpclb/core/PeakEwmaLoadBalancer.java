package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import io.grpc.ClientStreamTracer;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.PickSubchannelArgs;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.LoadBalancer.SubchannelPicker;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntUnaryOperator;
import java.util.function.LongSupplier;

/**
 * {@code peak_ewma}: power of two choices over each endpoint's cost, its peak-EWMA latency times
 * (RPCs in flight + 1), as Finagle, tower and Linkerd balance. Latency is measured per RPC by a
 * stream tracer, from the stream's start to the first response message (or to its close, for an RPC
 * that ends without one).
 *
 * <p>Balancer state changes run in the SynchronizationContext (see {@link
 * EndpointSetLoadBalancer}); the picker is an immutable snapshot over thread-safe {@link
 * EndpointLoad}s and never blocks.
 */
final class PeakEwmaLoadBalancer extends EndpointSetLoadBalancer<EndpointLoad> {
  private final LongSupplier nanoClock;
  private final IntUnaryOperator random;
  private PeakEwmaConfig config = PeakEwmaConfig.defaults();

  /**
   * @param nanoClock monotonic nanoseconds, {@link System#nanoTime} outside tests
   * @param random returns a uniform int in {@code [0, bound)}; called from many threads at once
   */
  PeakEwmaLoadBalancer(Helper helper, LongSupplier nanoClock, IntUnaryOperator random) {
    super(helper, PeakEwmaConfig.POLICY_NAME);
    this.nanoClock = nanoClock;
    this.random = random;
  }

  @Override
  EndpointLoad newPolicyState() {
    return new EndpointLoad(config.defaultRttNanos(), nanoClock.getAsLong());
  }

  /** A reconnected endpoint is probed afresh: its failures were the old connection's. */
  @Override
  void onReconnected(Endpoint<EndpointLoad> endpoint) {
    endpoint.policyState().reset(config.defaultRttNanos(), nanoClock.getAsLong());
  }

  /** Read from metrics and debugging threads: {@code config} is an immutable object. */
  @Override
  BalancerObserver.Load loadOf(EndpointLoad load) {
    long now = nanoClock.getAsLong();
    double decayNanos = config.decayNanos();
    return new BalancerObserver.Load(
        load.inFlight(), load.estimateNanos(now, decayNanos), load.cost(now, decayNanos));
  }

  @Override
  void configure(Object policyConfig) {
    config = policyConfig == null ? PeakEwmaConfig.defaults() : (PeakEwmaConfig) policyConfig;
  }

  @Override
  SubchannelPicker readyPicker(List<Endpoint<EndpointLoad>> rotation) {
    return new Picker(rotation, config, nanoClock, random);
  }

  /** Picks the cheaper of {@code choiceCount} distinct random endpoints; allocates nothing. */
  static final class Picker extends SubchannelPicker {
    private final List<Subchannel> subchannels;
    private final EndpointLoad[] loads;
    private final PickResult[] results;
    private final int[] coprimeStrides;
    private final PeakEwmaConfig config;
    private final double decayNanos;
    private final IntUnaryOperator random;
    private final String description;

    Picker(
        List<Endpoint<EndpointLoad>> rotation,
        PeakEwmaConfig config,
        LongSupplier nanoClock,
        IntUnaryOperator random) {
      int n = rotation.size();
      this.subchannels = new ArrayList<>(n);
      this.loads = new EndpointLoad[n];
      this.results = new PickResult[n];
      for (int i = 0; i < n; i++) {
        Endpoint<EndpointLoad> endpoint = rotation.get(i);
        subchannels.add(endpoint.subchannel());
        loads[i] = endpoint.policyState();
        results[i] =
            PickResult.withSubchannel(
                endpoint.subchannel(),
                new LoadRecorder(loads[i], endpoint.telemetry(), config, nanoClock));
      }
      this.config = config;
      this.decayNanos = config.decayNanos();
      this.random = random;
      this.description = PickerText.endpoints(rotation);
      this.coprimeStrides = config.choiceCount() > 2 ? coprimesBelow(n) : new int[0];
    }

    @Override
    public PickResult pickSubchannel(PickSubchannelArgs args) {
      int n = loads.length;
      if (n == 1) {
        return results[0];
      }
      int choices = config.choiceCount();
      int best;
      if (choices >= n) {
        best = cheapestOf(random.applyAsInt(n), 1, n);
      } else if (choices == 2) {
        // Two distinct uniform indices: draw j from the n - 1 others. Costs are compared
        // relative to i's last update, which orders them as at any instant: no clock read.
        int i = random.applyAsInt(n);
        int j = random.applyAsInt(n - 1);
        if (j >= i) {
          j++;
        }
        long reference = loads[i].stampNanos();
        best =
            loads[j].relativeCost(reference, decayNanos)
                    < loads[i].relativeCost(reference, decayNanos)
                ? j
                : i;
      } else {
        // k distinct indices: a random start walked with a stride coprime to n never repeats.
        int stride = coprimeStrides[random.applyAsInt(coprimeStrides.length)];
        best = cheapestOf(random.applyAsInt(n), stride, choices);
      }
      return results[best];
    }

    private int cheapestOf(int start, int stride, int count) {
      int n = loads.length;
      long reference = loads[start].stampNanos();
      int best = start;
      double bestCost = loads[start].relativeCost(reference, decayNanos);
      int index = start;
      for (int k = 1; k < count; k++) {
        index = (index + stride) % n;
        double cost = loads[index].relativeCost(reference, decayNanos);
        if (cost < bestCost) {
          best = index;
          bestCost = cost;
        }
      }
      return best;
    }

    private static int[] coprimesBelow(int n) {
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

    @Override
    public boolean equals(Object other) {
      return other instanceof Picker
          && ((Picker) other).subchannels.equals(subchannels)
          && ((Picker) other).config.equals(config);
    }

    @Override
    public int hashCode() {
      return subchannels.hashCode() * 31 + config.hashCode();
    }

    @Override
    public String toString() {
      return "peak_ewma picker over " + description + ", best of " + config.choiceCount();
    }
  }

  /** Counts an endpoint's RPCs in flight and feeds their latency into its estimate. */
  static final class LoadRecorder extends ClientStreamTracer.Factory {
    private final EndpointLoad load;
    private final EndpointTelemetry telemetry;
    private final PeakEwmaConfig config;
    private final LongSupplier nanoClock;

    LoadRecorder(
        EndpointLoad load,
        EndpointTelemetry telemetry,
        PeakEwmaConfig config,
        LongSupplier nanoClock) {
      this.load = load;
      this.telemetry = telemetry;
      this.config = config;
      this.nanoClock = nanoClock;
    }

    @Override
    public ClientStreamTracer newClientStreamTracer(
        ClientStreamTracer.StreamInfo info, Metadata headers) {
      load.rpcStarted();
      telemetry.rpcStarted();
      return new RpcTracer(nanoClock.getAsLong());
    }

    /**
     * One RPC attempt. grpc-java calls a tracer's methods one at a time, but possibly from
     * different threads: the fields are volatile for visibility.
     */
    private final class RpcTracer extends ClientStreamTracer {
      private final long startNanos;
      private volatile long firstResponseNanos;
      private volatile boolean responded;

      RpcTracer(long startNanos) {
        this.startNanos = startNanos;
      }

      @Override
      public void inboundMessage(int seqNo) {
        if (!responded) {
          responded = true;
          firstResponseNanos = nanoClock.getAsLong();
        }
      }

      @Override
      public void streamClosed(Status status) {
        long now = nanoClock.getAsLong();
        load.rpcFinished();
        telemetry.rpcFinished(status.getCode());
        if (status.getCode() == Status.Code.CANCELLED) {
          return; // the client gave up: says nothing about the endpoint
        }
        long rtt = (responded ? firstResponseNanos : now) - startNanos;
        if (isServerFailure(status.getCode())) {
          rtt = Math.max(rtt, config.failurePenaltyNanos());
        }
        load.observe(rtt, now, config.decayNanos());
      }
    }

    static boolean isServerFailure(Status.Code code) {
      switch (code) {
        case UNAVAILABLE:
        case INTERNAL:
        case UNKNOWN:
        case DATA_LOSS:
        case RESOURCE_EXHAUSTED:
        case DEADLINE_EXCEEDED:
          return true;
        default:
          return false;
      }
    }
  }
}
