package io.github.kubegrpclb.core.internal;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.LongUpDownCounter;
import io.opentelemetry.api.metrics.Meter;
import java.util.List;
import java.util.Locale;

/**
 * The names this library's metrics use (prefix and attribute keys) and the instruments recorded as
 * things happen (counters and a histogram), built once per meter and shared by the balancer,
 * endpoint, resolver and shard recorders of one {@link OtelTelemetry}. The gauges are built by the
 * recorder whose state they observe. The instruments and their meaning are listed in
 * docs/operating.md. Immutable; OpenTelemetry's instruments are thread-safe.
 */
final class OtelInstruments {
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

  private static final List<Double> LAG_BUCKETS_SECONDS =
      List.of(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0);

  final Meter meter;
  final LongCounter rpcsStarted;
  final LongCounter rpcsFinished;
  final LongUpDownCounter rpcsActive;
  final LongCounter pickerUpdates;
  final LongCounter resolverUpdates;
  final LongCounter resolverErrors;
  final DoubleHistogram resolverLag;
  final LongCounter shardRecycles;
  final LongCounter shardRedials;
  final LongCounter shardAbandoned;
  final LongCounter streamsEnded;

  OtelInstruments(Meter meter) {
    this.meter = meter;
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

  /** An attribute value from an enum or state name: {@code READY} is {@code ready}. */
  static String lower(Object value) {
    return value.toString().toLowerCase(Locale.ROOT);
  }
}
