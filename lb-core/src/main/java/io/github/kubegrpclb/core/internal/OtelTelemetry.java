package io.github.kubegrpclb.core.internal;

import io.github.kubegrpclb.core.LbTelemetry;
import io.grpc.ConnectivityState;
import io.grpc.Status;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.BatchCallback;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.LongUpDownCounter;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.MeterProvider;
import io.opentelemetry.api.metrics.ObservableDoubleMeasurement;
import io.opentelemetry.api.metrics.ObservableLongMeasurement;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import javax.annotation.Nullable;

/**
 * {@link Telemetry} on the OpenTelemetry metrics API; loaded only when that API is present. The
 * instruments and their meaning are listed in docs/operating.md. Counters are recorded as things
 * happen (RPC completion path, SynchronizationContext); gauges are computed by callbacks when the
 * reader collects, from state the components publish safely. Thread-safe.
 */
final class OtelTelemetry implements Telemetry {
  static final String PREFIX = "kube_grpc_lb.";
  static final String OTHER_ENDPOINTS = "_other";

  static final AttributeKey<String> TARGET = AttributeKey.stringKey("target");
  static final AttributeKey<String> POLICY = AttributeKey.stringKey("policy");
  static final AttributeKey<String> ENDPOINT = AttributeKey.stringKey("endpoint");
  static final AttributeKey<String> ZONE = AttributeKey.stringKey("zone");
  static final AttributeKey<String> GRPC_STATUS = AttributeKey.stringKey("grpc.status");
  static final AttributeKey<String> STATE = AttributeKey.stringKey("state");
  static final AttributeKey<String> CONDITION = AttributeKey.stringKey("condition");
  static final AttributeKey<Boolean> IN_ROTATION = AttributeKey.booleanKey("in_rotation");
  static final AttributeKey<Boolean> EJECTED = AttributeKey.booleanKey("ejected");
  static final AttributeKey<Boolean> RAMPING = AttributeKey.booleanKey("ramping");
  static final AttributeKey<String> RESOLVER = AttributeKey.stringKey("resolver");
  static final AttributeKey<String> ERROR_TYPE = AttributeKey.stringKey("error.type");
  static final AttributeKey<String> REASON = AttributeKey.stringKey("reason");
  static final AttributeKey<String> RESULT = AttributeKey.stringKey("result");

  private static final Status.Code[] CODES = Status.Code.values();
  private static final List<Double> LAG_BUCKETS_SECONDS =
      List.of(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0);

  /*
   * Distinct endpoint values ever exported, per meter provider and (target, policy). With
   * cumulative temporality a series lives in the SDK, and in the backend, for as long as the
   * provider does, whether or not its endpoint still exists: counting endpoints alive at once let
   * every rollout add new values (10 rollouts of 10 pods, limit 20: 100 values, issue 25). So the
   * limit bounds the distinct values exported for a target over the provider's life, across
   * balancers (idle mode makes new ones) and channels to the same target: an address seen before
   * keeps its series; a new one gets its own while fewer than the limit were ever exported, and
   * is counted under _other once they are used up. Weak keys: a provider that goes away takes its
   * values with it.
   */
  private static final Map<MeterProvider, Map<Attributes, Set<String>>> EXPORTED_ENDPOINTS =
      new WeakHashMap<>();

  private final Meter meter;
  private final Map<Attributes, Set<String>> exportedEndpoints;
  private final int endpointLimit;
  private final LongCounter rpcsStarted;
  private final LongCounter rpcsFinished;
  private final LongUpDownCounter rpcsActive;
  private final LongCounter pickerUpdates;
  private final LongCounter resolverUpdates;
  private final LongCounter resolverErrors;
  private final DoubleHistogram resolverLag;
  private final LongCounter shardRecycles;
  private final LongCounter shardRedials;
  private final LongCounter shardAbandoned;
  private final LongCounter streamsEnded;

  private OtelTelemetry(
      Meter meter, Map<Attributes, Set<String>> exportedEndpoints, int endpointLimit) {
    this.meter = meter;
    this.exportedEndpoints = exportedEndpoints;
    this.endpointLimit = endpointLimit;
    this.rpcsStarted =
        meter
            .counterBuilder(PREFIX + "endpoint.rpcs.started")
            .setUnit("{rpc}")
            .setDescription("RPC attempts started on the endpoint")
            .build();
    this.rpcsFinished =
        meter
            .counterBuilder(PREFIX + "endpoint.rpcs.finished")
            .setUnit("{rpc}")
            .setDescription("RPC attempts on the endpoint that ended, by gRPC status code")
            .build();
    this.rpcsActive =
        meter
            .upDownCounterBuilder(PREFIX + "endpoint.rpcs.active")
            .setUnit("{rpc}")
            .setDescription("RPC attempts in flight on the endpoint")
            .build();
    this.pickerUpdates =
        meter
            .counterBuilder(PREFIX + "picker.updates")
            .setUnit("{update}")
            .setDescription("Pickers the balancer published, by the channel state they came with")
            .build();
    this.resolverUpdates =
        meter
            .counterBuilder(PREFIX + "resolver.updates")
            .setUnit("{update}")
            .setDescription("Endpoint sets the resolver published to the channel")
            .build();
    this.resolverErrors =
        meter
            .counterBuilder(PREFIX + "resolver.errors")
            .setUnit("{error}")
            .setDescription("Resolution and watch failures, by kind (error.type)")
            .build();
    this.resolverLag =
        meter
            .histogramBuilder(PREFIX + "resolver.update.lag")
            .setUnit("s")
            .setDescription(
                "Time from the watch event or DNS answer to the update published to the channel")
            .setExplicitBucketBoundariesAdvice(LAG_BUCKETS_SECONDS)
            .build();
    this.shardRecycles =
        meter
            .counterBuilder(PREFIX + "shard.recycles")
            .setUnit("{recycle}")
            .setDescription("Shards that got a new connection, by reason")
            .build();
    this.shardRedials =
        meter
            .counterBuilder(PREFIX + "shard.redials")
            .setUnit("{redial}")
            .setDescription(
                "Shards that reached a pod another shard covers: re-dialed, or refused by the"
                    + " re-dial budget (result)")
            .build();
    this.shardAbandoned =
        meter
            .counterBuilder(PREFIX + "shard.replacements.abandoned")
            .setUnit("{replacement}")
            .setDescription("Shard replacements not READY in time (the old shard was kept)")
            .build();
    this.streamsEnded =
        meter
            .counterBuilder(PREFIX + "streams.ended")
            .setUnit("{stream}")
            .setDescription(
                "Long-lived streams the balancer asked to move, by reason (scale_up, imbalance,"
                    + " terminating)")
            .build();
  }

  /** Returns {@link Telemetry#NOOP} when {@code settings} has no meter provider. */
  static Telemetry create(LbTelemetry settings) {
    OpenTelemetry openTelemetry = settings.openTelemetry();
    MeterProvider provider = openTelemetry.getMeterProvider();
    if (provider == MeterProvider.noop()) {
      return NOOP;
    }
    Map<Attributes, Set<String>> exported;
    synchronized (EXPORTED_ENDPOINTS) {
      exported = EXPORTED_ENDPOINTS.computeIfAbsent(provider, unused -> new ConcurrentHashMap<>());
    }
    return new OtelTelemetry(
        provider.meterBuilder("io.github.kubegrpclb").build(), exported, settings.endpointLimit());
  }

  /**
   * Whether {@code address} may have series of its own under {@code channel}: it had them before,
   * or fewer than the limit of distinct values were ever exported there (and it takes one).
   */
  private boolean exportable(Attributes channel, String address) {
    Set<String> exported = exportedEndpoints.computeIfAbsent(channel, unused -> new HashSet<>());
    synchronized (exported) {
      if (exported.contains(address)) {
        return true;
      }
      if (exported.size() >= endpointLimit) {
        return false;
      }
      exported.add(address);
      return true;
    }
  }

  @Override
  public BalancerTelemetry balancer(
      String target,
      String policy,
      Supplier<List<EndpointStatus>> endpoints,
      Supplier<ZoneSpillStatus> zoneSpill) {
    return new Balancer(Attributes.of(TARGET, target, POLICY, policy), endpoints, zoneSpill);
  }

  @Override
  public ResolverTelemetry resolver(
      String target, String resolver, LongSupplier lastSuccessAgeNanos) {
    return new Resolver(Attributes.of(TARGET, target, RESOLVER, resolver), lastSuccessAgeNanos);
  }

  @Override
  public ShardTelemetry sharded(
      String target,
      Supplier<Map<ConnectivityState, Integer>> shardsByState,
      IntSupplier podsReached) {
    return new Shards(Attributes.of(TARGET, target), shardsByState, podsReached);
  }

  private static String lower(Object value) {
    return value.toString().toLowerCase(Locale.ROOT);
  }

  /** One balancer's recorders and gauges; endpoint slots are counted in its sync context. */
  // Attributes are looked up by ordinal: an array read, lock- and allocation-free.
  @SuppressWarnings("EnumOrdinal")
  private final class Balancer implements BalancerTelemetry {
    private final Attributes channel;
    private final Attributes[] pickerUpdateAttributes;
    private final BatchCallback gauges;
    private final Map<String, Attributes> streamReasons = new HashMap<>();
    private int individualEndpoints;

    Balancer(
        Attributes channel,
        Supplier<List<EndpointStatus>> endpoints,
        Supplier<ZoneSpillStatus> zoneSpill) {
      this.channel = channel;
      ConnectivityState[] states = ConnectivityState.values();
      this.pickerUpdateAttributes = new Attributes[states.length];
      for (ConnectivityState state : states) {
        pickerUpdateAttributes[state.ordinal()] =
            channel.toBuilder().put(STATE, lower(state)).build();
      }
      ObservableDoubleMeasurement estimate =
          meter
              .gaugeBuilder(PREFIX + "endpoint.latency.estimate")
              .setUnit("s")
              .setDescription("peak_ewma's latency estimate of the endpoint, decayed to now")
              .buildObserver();
      ObservableDoubleMeasurement cost =
          meter
              .gaugeBuilder(PREFIX + "endpoint.cost")
              .setUnit("s")
              .setDescription(
                  "peak_ewma's cost of the endpoint: latency estimate x (RPCs in flight + 1)")
              .buildObserver();
      ObservableDoubleMeasurement weight =
          meter
              .gaugeBuilder(PREFIX + "endpoint.weight")
              .setUnit("1")
              .setDescription(
                  "Share of its traffic the picker gives the endpoint, in (0, 1]: below 1 while"
                      + " slow start ramps it up; endpoints in rotation only")
              .buildObserver();
      ObservableLongMeasurement state =
          meter
              .gaugeBuilder(PREFIX + "endpoint.state")
              .ofLongs()
              .setUnit("{endpoint}")
              .setDescription(
                  "1 for the endpoint's connection state, condition and whether it is in rotation")
              .buildObserver();
      ObservableLongMeasurement count =
          meter
              .upDownCounterBuilder(PREFIX + "endpoints")
              .setUnit("{endpoint}")
              .setDescription("The balancer's endpoints by connection state, condition, rotation")
              .buildObserver();
      ObservableLongMeasurement spilled =
          meter
              .gaugeBuilder(PREFIX + "zone_spill.endpoints")
              .ofLongs()
              .setUnit("{endpoint}")
              .setDescription(
                  "Endpoints outside the client's zone (or node) in rotation because the preferred"
                      + " ones are loaded; only while a zone or node preference applies")
              .buildObserver();
      ObservableDoubleMeasurement localLoad =
          meter
              .gaugeBuilder(PREFIX + "zone_spill.local_load")
              .setUnit("{rpc}")
              .setDescription(
                  "RPCs in flight per preferred endpoint they would carry without spill, as zone"
                      + " spill last estimated it; compared with the band lowLoad-highLoad")
              .buildObserver();
      ObservableLongMeasurement streams =
          meter
              .gaugeBuilder(PREFIX + "endpoint.streams.open")
              .ofLongs()
              .setUnit("{stream}")
              .setDescription(
                  "Streaming calls open on the endpoint; only while stream rebalancing is on")
              .buildObserver();
      this.gauges =
          meter.batchCallback(
              () -> {
                List<EndpointStatus> statuses = endpoints.get();
                observe(statuses, estimate, cost, weight, state, count);
                observeStreams(statuses, streams);
                observe(zoneSpill.get(), spilled, localLoad);
              },
              estimate,
              cost,
              weight,
              state,
              count,
              streams,
              spilled,
              localLoad);
    }

    private void observe(
        @Nullable ZoneSpillStatus spill,
        ObservableLongMeasurement spilled,
        ObservableDoubleMeasurement localLoad) {
      if (spill == null) {
        return; // no preference applies: nothing spills, and there is no local load to speak of
      }
      Attributes attributes =
          spill.clientZone == null
              ? channel
              : channel.toBuilder().put(ZONE, spill.clientZone).build();
      spilled.record(spill.spilled, attributes);
      if (!Double.isNaN(spill.localLoad)) {
        localLoad.record(spill.localLoad, attributes);
      }
    }

    private void observe(
        List<EndpointStatus> endpoints,
        ObservableDoubleMeasurement estimate,
        ObservableDoubleMeasurement cost,
        ObservableDoubleMeasurement weight,
        ObservableLongMeasurement state,
        ObservableLongMeasurement count) {
      Map<Attributes, Long> counts = new HashMap<>();
      for (EndpointStatus status : endpoints) {
        Attributes view =
            Attributes.of(
                STATE,
                lower(status.state),
                CONDITION,
                status.condition,
                IN_ROTATION,
                status.inRotation,
                EJECTED,
                status.ejected,
                RAMPING,
                status.isRamping());
        counts.merge(channel.toBuilder().putAll(view).build(), 1L, Long::sum);
        if (!(status.telemetry instanceof Endpoint telemetry) || !telemetry.individual) {
          continue;
        }
        Attributes endpoint = telemetry.attributes;
        state.record(1, endpoint.toBuilder().putAll(view).build());
        if (!Double.isNaN(status.estimateNanos)) {
          estimate.record(status.estimateNanos / 1e9, endpoint);
        }
        if (!Double.isNaN(status.costNanos)) {
          cost.record(status.costNanos / 1e9, endpoint);
        }
        if (!Double.isNaN(status.weight)) {
          weight.record(status.weight, endpoint);
        }
      }
      counts.forEach((attributes, n) -> count.record(n, attributes));
    }

    private void observeStreams(List<EndpointStatus> endpoints, ObservableLongMeasurement streams) {
      for (EndpointStatus status : endpoints) {
        if (status.openStreams >= 0
            && status.telemetry instanceof Endpoint telemetry
            && telemetry.individual) {
          streams.record(status.openStreams, telemetry.attributes);
        }
      }
    }

    @Override
    public void streamsEnded(String reason, int count) {
      streamsEnded.add(
          count,
          streamReasons.computeIfAbsent(reason, r -> channel.toBuilder().put(REASON, r).build()));
    }

    @Override
    public boolean isRecording() {
      return true;
    }

    @Override
    public EndpointTelemetry endpoint(String address, @Nullable String zone) {
      boolean individual = individualEndpoints < endpointLimit && exportable(channel, address);
      Attributes attributes;
      if (individual) {
        individualEndpoints++;
        io.opentelemetry.api.common.AttributesBuilder builder =
            channel.toBuilder().put(ENDPOINT, address);
        if (zone != null) {
          builder.put(ZONE, zone);
        }
        attributes = builder.build();
      } else {
        attributes = channel.toBuilder().put(ENDPOINT, OTHER_ENDPOINTS).build();
      }
      return new Endpoint(this, attributes, individual);
    }

    @Override
    public void pickerUpdated(ConnectivityState state) {
      pickerUpdates.add(1, pickerUpdateAttributes[state.ordinal()]);
    }

    @Override
    public void close() {
      gauges.close();
    }
  }

  // Attributes are looked up by ordinal: an array read, lock- and allocation-free on the RPC path.
  @SuppressWarnings("EnumOrdinal")
  private final class Endpoint implements EndpointTelemetry {
    private final Balancer balancer;
    final Attributes attributes;
    final boolean individual;
    private final Attributes[] finishedAttributes = new Attributes[CODES.length];
    private boolean closed;

    Endpoint(Balancer balancer, Attributes attributes, boolean individual) {
      this.balancer = balancer;
      this.attributes = attributes;
      this.individual = individual;
    }

    @Override
    public void rpcStarted() {
      rpcsStarted.add(1, attributes);
      rpcsActive.add(1, attributes);
    }

    @Override
    public void rpcFinished(Status.Code code) {
      rpcsActive.add(-1, attributes);
      Attributes finished = finishedAttributes[code.ordinal()];
      if (finished == null) {
        // A benign race: Attributes are immutable, so a thread may at worst build its own copy.
        finished = attributes.toBuilder().put(GRPC_STATUS, code.name()).build();
        finishedAttributes[code.ordinal()] = finished;
      }
      rpcsFinished.add(1, finished);
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        if (individual) {
          balancer.individualEndpoints--;
        }
      }
    }
  }

  private final class Resolver implements ResolverTelemetry {
    private final Attributes attributes;
    private final Map<String, Attributes> errorAttributes = new HashMap<>();
    private final BatchCallback gauges;

    Resolver(Attributes attributes, LongSupplier lastSuccessAgeNanos) {
      this.attributes = attributes;
      ObservableDoubleMeasurement age =
          meter
              .gaugeBuilder(PREFIX + "resolver.last_success.age")
              .setUnit("s")
              .setDescription(
                  "Time since the resolver last knew its endpoints to be current (a DNS answer, or"
                      + " a watch without error)")
              .buildObserver();
      this.gauges =
          meter.batchCallback(
              () -> {
                long nanos = lastSuccessAgeNanos.getAsLong();
                if (nanos >= 0) {
                  age.record(nanos / 1e9, attributes);
                }
              },
              age);
    }

    @Override
    public void published(int endpoints, long lagNanos) {
      resolverUpdates.add(1, attributes);
      if (lagNanos >= 0) {
        resolverLag.record(lagNanos / 1e9, attributes);
      }
    }

    @Override
    public void error(String kind) {
      resolverErrors.add(
          1,
          errorAttributes.computeIfAbsent(
              kind, k -> attributes.toBuilder().put(ERROR_TYPE, k).build()));
    }

    @Override
    public void close() {
      gauges.close();
    }
  }

  private final class Shards implements ShardTelemetry {
    private final Attributes attributes;
    private final Map<String, Attributes> recycleAttributes = new ConcurrentHashMap<>();
    private final Attributes redialed;
    private final Attributes refused;
    private final BatchCallback gauges;

    Shards(
        Attributes attributes,
        Supplier<Map<ConnectivityState, Integer>> shardsByState,
        IntSupplier podsReached) {
      this.attributes = attributes;
      this.redialed = attributes.toBuilder().put(RESULT, "dialed").build();
      this.refused = attributes.toBuilder().put(RESULT, "refused").build();
      Map<ConnectivityState, Attributes> stateAttributes = new EnumMap<>(ConnectivityState.class);
      for (ConnectivityState state : ConnectivityState.values()) {
        stateAttributes.put(state, attributes.toBuilder().put(STATE, lower(state)).build());
      }
      ObservableLongMeasurement shards =
          meter
              .upDownCounterBuilder(PREFIX + "shards")
              .setUnit("{shard}")
              .setDescription("The sharded channel's shards by connection state")
              .buildObserver();
      ObservableLongMeasurement pods =
          meter
              .gaugeBuilder(PREFIX + "shard.pods_reached")
              .ofLongs()
              .setUnit("{pod}")
              .setDescription("Distinct pods the sharded channel's shards are connected to")
              .buildObserver();
      this.gauges =
          meter.batchCallback(
              () -> {
                shardsByState
                    .get()
                    .forEach((state, n) -> shards.record(n, stateAttributes.get(state)));
                int reached = podsReached.getAsInt();
                if (reached >= 0) {
                  pods.record(reached, attributes);
                }
              },
              shards,
              pods);
    }

    private Attributes withReason(String reason) {
      return recycleAttributes.computeIfAbsent(
          reason, r -> attributes.toBuilder().put(REASON, r).build());
    }

    @Override
    public void recycled(String reason) {
      shardRecycles.add(1, withReason(reason));
    }

    @Override
    public void replacementAbandoned(String reason) {
      shardAbandoned.add(1, withReason(reason));
    }

    @Override
    public void redial(boolean wasRefused) {
      shardRedials.add(1, wasRefused ? refused : redialed);
    }

    @Override
    public void close() {
      gauges.close();
    }
  }
}
