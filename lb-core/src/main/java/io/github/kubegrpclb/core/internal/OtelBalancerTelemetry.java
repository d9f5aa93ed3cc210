package io.github.kubegrpclb.core.internal;

import static io.github.kubegrpclb.core.internal.OtelInstruments.CONDITION;
import static io.github.kubegrpclb.core.internal.OtelInstruments.EJECTED;
import static io.github.kubegrpclb.core.internal.OtelInstruments.ENDPOINT;
import static io.github.kubegrpclb.core.internal.OtelInstruments.IN_ROTATION;
import static io.github.kubegrpclb.core.internal.OtelInstruments.OTHER_ENDPOINTS;
import static io.github.kubegrpclb.core.internal.OtelInstruments.PREFIX;
import static io.github.kubegrpclb.core.internal.OtelInstruments.RAMPING;
import static io.github.kubegrpclb.core.internal.OtelInstruments.REASON;
import static io.github.kubegrpclb.core.internal.OtelInstruments.STATE;
import static io.github.kubegrpclb.core.internal.OtelInstruments.ZONE;
import static io.github.kubegrpclb.core.internal.OtelInstruments.lower;

import io.grpc.ConnectivityState;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.metrics.BatchCallback;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.ObservableDoubleMeasurement;
import io.opentelemetry.api.metrics.ObservableLongMeasurement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import javax.annotation.Nullable;

/**
 * One balancer's metrics on OpenTelemetry: its picker updates and moved streams as counters, and
 * gauges of its endpoints (state, rotation, peak_ewma's estimate and cost, slow-start weight, open
 * streams) and of its zone spill, computed from its published statuses when the reader collects. It
 * hands out its endpoints' recorders ({@link OtelEndpointTelemetry}) and counts those with series
 * of their own against the endpoint limit. Counters and endpoint slots are recorded in the
 * balancer's SynchronizationContext; the gauge callback runs on the metrics reader's thread.
 */
// Attributes are looked up by ordinal: an array read, lock- and allocation-free.
@SuppressWarnings("EnumOrdinal")
final class OtelBalancerTelemetry implements BalancerTelemetry {
  private final OtelInstruments instruments;
  private final ExportedEndpoints exported;
  private final Attributes channel;
  private final Attributes[] pickerUpdateAttributes;
  private final BatchCallback gauges;
  private final Map<String, Attributes> streamReasons = new HashMap<>();
  private int individualEndpoints;

  /**
   * @param channel the {@code target} and {@code policy} attributes every series carries
   * @param zoneSpill returns the zone spill, or null while no zone or node preference applies
   */
  OtelBalancerTelemetry(
      OtelInstruments instruments,
      ExportedEndpoints exported,
      Attributes channel,
      Supplier<List<EndpointStatus>> endpoints,
      Supplier<ZoneSpillStatus> zoneSpill) {
    this.instruments = instruments;
    this.exported = exported;
    this.channel = channel;
    ConnectivityState[] states = ConnectivityState.values();
    this.pickerUpdateAttributes = new Attributes[states.length];
    for (ConnectivityState state : states) {
      pickerUpdateAttributes[state.ordinal()] =
          channel.toBuilder().put(STATE, lower(state)).build();
    }
    Meter meter = instruments.meter;
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
                "Endpoints outside the client's zone (or node) in rotation because the hinted"
                    + " ones are loaded; only while a zone or node preference applies")
            .buildObserver();
    ObservableDoubleMeasurement projectedLoad =
        meter
            .gaugeBuilder(PREFIX + "zone_spill.local_load")
            .setUnit("{rpc}")
            .setDescription(
                "RPCs in flight per hinted endpoint they would carry without spill, as zone"
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
              observe(zoneSpill.get(), spilled, projectedLoad);
            },
            estimate,
            cost,
            weight,
            state,
            count,
            streams,
            spilled,
            projectedLoad);
  }

  private void observe(
      @Nullable ZoneSpillStatus spill,
      ObservableLongMeasurement spilled,
      ObservableDoubleMeasurement projectedLoad) {
    if (spill == null) {
      return; // no preference applies: nothing spills, and there is no load to project
    }
    Attributes attributes =
        spill.clientZone == null
            ? channel
            : channel.toBuilder().put(ZONE, spill.clientZone).build();
    spilled.record(spill.spilled, attributes);
    if (!Double.isNaN(spill.projectedLoad)) {
      projectedLoad.record(spill.projectedLoad, attributes);
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
      if (!(status.telemetry instanceof OtelEndpointTelemetry telemetry) || !telemetry.individual) {
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
          && status.telemetry instanceof OtelEndpointTelemetry telemetry
          && telemetry.individual) {
        streams.record(status.openStreams, telemetry.attributes);
      }
    }
  }

  @Override
  public void streamsEnded(String reason, int count) {
    instruments.streamsEnded.add(
        count,
        streamReasons.computeIfAbsent(reason, r -> channel.toBuilder().put(REASON, r).build()));
  }

  @Override
  public boolean isRecording() {
    return true;
  }

  @Override
  public EndpointTelemetry endpoint(String address, @Nullable String zone) {
    boolean individual = individualEndpoints < exported.limit() && exported.admit(channel, address);
    Attributes attributes;
    if (individual) {
      individualEndpoints++;
      AttributesBuilder builder = channel.toBuilder().put(ENDPOINT, address);
      if (zone != null) {
        builder.put(ZONE, zone);
      }
      attributes = builder.build();
    } else {
      attributes = channel.toBuilder().put(ENDPOINT, OTHER_ENDPOINTS).build();
    }
    return new OtelEndpointTelemetry(instruments, this, attributes, individual);
  }

  /** An endpoint with series of its own left: its slot under the limit is free again. */
  void individualEndpointClosed() {
    individualEndpoints--;
  }

  @Override
  public void pickerUpdated(ConnectivityState state) {
    instruments.pickerUpdates.add(1, pickerUpdateAttributes[state.ordinal()]);
  }

  @Override
  public void close() {
    gauges.close();
  }
}
