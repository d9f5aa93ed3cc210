package io.github.kubegrpclb.testing;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.DoublePointData;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.data.PointData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A real OpenTelemetry SDK whose metrics a test reads back: an in-memory reader, collected on every
 * query (cumulative), with sums and values filtered by attributes. Each query is a fresh
 * collection, so gauges are computed at that moment. Thread-safe; close it (e.g. through {@link
 * Cleanup}) to stop the SDK.
 */
public final class TestMetrics implements AutoCloseable {
  private final InMemoryMetricReader reader = InMemoryMetricReader.create();
  private final SdkMeterProvider meterProvider =
      SdkMeterProvider.builder().registerMetricReader(reader).build();
  private final OpenTelemetrySdk sdk =
      OpenTelemetrySdk.builder().setMeterProvider(meterProvider).build();

  /** The SDK to hand to the code under test. */
  public OpenTelemetry openTelemetry() {
    return sdk;
  }

  /** Collects now: every metric with its points. */
  public Collection<MetricData> collect() {
    return reader.collectAllMetrics();
  }

  /** Names of the metrics with at least one point now. */
  public TreeSet<String> names() {
    TreeSet<String> names = new TreeSet<>();
    for (MetricData metric : collect()) {
      if (!metric.getData().getPoints().isEmpty()) {
        names.add(metric.getName());
      }
    }
    return names;
  }

  /**
   * The sum of the counter, up-down counter or gauge {@code name} over the points whose attributes
   * include {@code attributes} (compared as strings); 0 when there is none.
   */
  public double sum(String name, Map<String, ?> attributes) {
    double sum = 0;
    for (PointData point : points(name, attributes)) {
      sum += value(point);
    }
    return sum;
  }

  /** The single point of {@code name} matching {@code attributes}; fails unless exactly one. */
  public double value(String name, Map<String, ?> attributes) {
    List<PointData> points = points(name, attributes);
    if (points.size() != 1) {
      throw new AssertionError(
          "expected one point of " + name + " with " + attributes + ", got " + points);
    }
    return value(points.get(0));
  }

  /** The number of values recorded by histogram {@code name} matching {@code attributes}. */
  public long histogramCount(String name, Map<String, ?> attributes) {
    long count = 0;
    for (PointData point : points(name, attributes)) {
      count += ((HistogramPointData) point).getCount();
    }
    return count;
  }

  /** The largest value recorded by histogram {@code name} matching {@code attributes}, or NaN. */
  public double histogramMax(String name, Map<String, ?> attributes) {
    double max = Double.NaN;
    for (PointData point : points(name, attributes)) {
      HistogramPointData histogram = (HistogramPointData) point;
      if (histogram.hasMax()) {
        max = Double.isNaN(max) ? histogram.getMax() : Math.max(max, histogram.getMax());
      }
    }
    return max;
  }

  /** Every point of {@code name} whose attributes include {@code attributes}. */
  public List<PointData> points(String name, Map<String, ?> attributes) {
    List<PointData> out = new ArrayList<>();
    for (MetricData metric : collect()) {
      if (!metric.getName().equals(name)) {
        continue;
      }
      for (PointData point : metric.getData().getPoints()) {
        if (matches(point.getAttributes(), attributes)) {
          out.add(point);
        }
      }
    }
    return out;
  }

  private static boolean matches(Attributes actual, Map<String, ?> wanted) {
    Map<String, String> byName = new java.util.HashMap<>();
    actual.forEach((key, value) -> byName.put(key.getKey(), String.valueOf(value)));
    for (Map.Entry<String, ?> entry : wanted.entrySet()) {
      if (!String.valueOf(entry.getValue()).equals(byName.get(entry.getKey()))) {
        return false;
      }
    }
    return true;
  }

  private static double value(PointData point) {
    if (point instanceof LongPointData) {
      return ((LongPointData) point).getValue();
    }
    if (point instanceof DoublePointData) {
      return ((DoublePointData) point).getValue();
    }
    throw new AssertionError("not a counter or gauge point: " + point);
  }

  @Override
  public void close() {
    sdk.close();
  }
}
