package io.github.kubegrpclb.core.internal;

import static io.github.kubegrpclb.core.internal.OtelInstruments.PREFIX;
import static io.github.kubegrpclb.core.internal.OtelInstruments.REASON;
import static io.github.kubegrpclb.core.internal.OtelInstruments.RESULT;
import static io.github.kubegrpclb.core.internal.OtelInstruments.STATE;
import static io.github.kubegrpclb.core.internal.OtelInstruments.lower;

import io.grpc.ConnectivityState;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.BatchCallback;
import io.opentelemetry.api.metrics.ObservableLongMeasurement;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * One sharded channel's metrics on OpenTelemetry: shard recycles, re-dials and abandoned
 * replacements as counters, and gauges of its shards by connection state and of the distinct pods
 * they reach. Thread-safe: counters may be recorded from any thread; the gauge callback runs on the
 * metrics reader's thread.
 */
final class OtelShardTelemetry implements ShardTelemetry {
  private final OtelInstruments instruments;
  private final Attributes attributes;
  private final Map<String, Attributes> recycleAttributes = new ConcurrentHashMap<>();
  private final Attributes redialed;
  private final Attributes refused;
  private final BatchCallback gauges;

  /**
   * @param attributes the {@code target} attribute every series carries
   * @param podsReached distinct pods reached, or -1 when the channel cannot know
   */
  OtelShardTelemetry(
      OtelInstruments instruments,
      Attributes attributes,
      Supplier<Map<ConnectivityState, Integer>> shardsByState,
      IntSupplier podsReached) {
    this.instruments = instruments;
    this.attributes = attributes;
    this.redialed = attributes.toBuilder().put(RESULT, "dialed").build();
    this.refused = attributes.toBuilder().put(RESULT, "refused").build();
    Map<ConnectivityState, Attributes> stateAttributes = new EnumMap<>(ConnectivityState.class);
    for (ConnectivityState state : ConnectivityState.values()) {
      stateAttributes.put(state, attributes.toBuilder().put(STATE, lower(state)).build());
    }
    ObservableLongMeasurement shards =
        instruments
            .meter
            .upDownCounterBuilder(PREFIX + "shards")
            .setUnit("{shard}")
            .setDescription("The sharded channel's shards by connection state")
            .buildObserver();
    ObservableLongMeasurement pods =
        instruments
            .meter
            .gaugeBuilder(PREFIX + "shard.pods_reached")
            .ofLongs()
            .setUnit("{pod}")
            .setDescription("Distinct pods the sharded channel's shards are connected to")
            .buildObserver();
    this.gauges =
        instruments.meter.batchCallback(
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
    instruments.shardRecycles.add(1, withReason(reason));
  }

  @Override
  public void replacementAbandoned(String reason) {
    instruments.shardAbandoned.add(1, withReason(reason));
  }

  @Override
  public void redial(boolean wasRefused) {
    instruments.shardRedials.add(1, wasRefused ? refused : redialed);
  }

  @Override
  public void close() {
    gauges.close();
  }
}
