package io.github.kubegrpclb.core.internal;

import static io.github.kubegrpclb.core.internal.OtelInstruments.ERROR_TYPE;
import static io.github.kubegrpclb.core.internal.OtelInstruments.PREFIX;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.BatchCallback;
import io.opentelemetry.api.metrics.ObservableDoubleMeasurement;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * One resolver's metrics on OpenTelemetry: updates published and their lag, failures by kind, and a
 * gauge of the time since it last knew its endpoints to be current. Updates and failures are
 * recorded in the resolver's SynchronizationContext; the gauge callback runs on the metrics
 * reader's thread.
 */
final class OtelResolverTelemetry implements ResolverTelemetry {
  private final OtelInstruments instruments;
  private final Attributes attributes;
  private final Map<String, Attributes> errorAttributes = new HashMap<>();
  private final BatchCallback gauges;

  /**
   * @param attributes the {@code target} and {@code resolver} attributes every series carries
   * @param lastSuccessAgeNanos how long ago the resolver last knew its endpoints to be current, or
   *     -1 before its first success
   */
  OtelResolverTelemetry(
      OtelInstruments instruments, Attributes attributes, LongSupplier lastSuccessAgeNanos) {
    this.instruments = instruments;
    this.attributes = attributes;
    ObservableDoubleMeasurement age =
        instruments
            .meter
            .gaugeBuilder(PREFIX + "resolver.last_success.age")
            .setUnit("s")
            .setDescription(
                "Time since the resolver last knew its endpoints to be current (a DNS answer, or"
                    + " a watch without error)")
            .buildObserver();
    this.gauges =
        instruments.meter.batchCallback(
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
    instruments.resolverUpdates.add(1, attributes);
    if (lagNanos >= 0) {
      instruments.resolverLag.record(lagNanos / 1e9, attributes);
    }
  }

  @Override
  public void error(String kind) {
    instruments.resolverErrors.add(
        1,
        errorAttributes.computeIfAbsent(
            kind, k -> attributes.toBuilder().put(ERROR_TYPE, k).build()));
  }

  @Override
  public void close() {
    gauges.close();
  }
}
