package io.github.kubegrpclb.core.internal;

import java.util.Locale;
import javax.annotation.Nullable;

/**
 * One endpoint as a balancer sees it at one instant: the row of a snapshot and the source of the
 * per-endpoint gauges. Immutable; built on demand (on a metrics reader's or a debugging thread)
 * from the balancer's published endpoint list and the endpoints' thread-safe load counters.
 */
public final class EndpointStatus {
  /** The endpoint's address(es), as the resolver gave them. */
  public final String address;

  /** The pod's zone, or null when unknown. */
  @Nullable public final String zone;

  /** The resolver's view: {@code ready} or {@code terminating_serving}. */
  public final String condition;

  /** The connection's state as the balancer tracks it (TRANSIENT_FAILURE is sticky). */
  public final String state;

  /** Whether the current picker can choose this endpoint. */
  public final boolean inRotation;

  /** Whether outlier ejection has taken the endpoint out of rotation. */
  public final boolean ejected;

  /**
   * The share of its traffic the picker gives the endpoint, in (0, 1]: below 1 while slow start
   * ramps it up after it joined; NaN when it is out of rotation.
   */
  public final double weight;

  /** RPCs in flight, or -1 when the policy does not count them. */
  public final int inFlight;

  /** The latency estimate in nanoseconds, or NaN when the policy keeps none. */
  public final double estimateNanos;

  /** The cost the picker compares, in nanoseconds, or NaN when the policy keeps none. */
  public final double costNanos;

  /** Streaming calls open on the endpoint, or -1 when stream rebalancing is off. */
  public final int openStreams;

  /** What else the policy says about the endpoint (ejected, ramping up, last failure), or null. */
  @Nullable public final String note;

  /** Where this endpoint's metrics go. */
  public final EndpointTelemetry telemetry;

  public EndpointStatus(
      String address,
      @Nullable String zone,
      String condition,
      String state,
      boolean inRotation,
      boolean ejected,
      double weight,
      int inFlight,
      double estimateNanos,
      double costNanos,
      @Nullable String note,
      EndpointTelemetry telemetry) {
    this(
        address,
        zone,
        condition,
        state,
        inRotation,
        ejected,
        weight,
        inFlight,
        estimateNanos,
        costNanos,
        -1,
        note,
        telemetry);
  }

  /** With the endpoint's open streams, when stream rebalancing counts them. */
  public EndpointStatus(
      String address,
      @Nullable String zone,
      String condition,
      String state,
      boolean inRotation,
      boolean ejected,
      double weight,
      int inFlight,
      double estimateNanos,
      double costNanos,
      int openStreams,
      @Nullable String note,
      EndpointTelemetry telemetry) {
    this.address = address;
    this.zone = zone;
    this.condition = condition;
    this.state = state;
    this.inRotation = inRotation;
    this.ejected = ejected;
    this.weight = weight;
    this.inFlight = inFlight;
    this.estimateNanos = estimateNanos;
    this.costNanos = costNanos;
    this.openStreams = openStreams;
    this.note = note;
    this.telemetry = telemetry;
  }

  /** Whether slow start is ramping the endpoint up: in rotation with a weight below 1. */
  public boolean isRamping() {
    return weight < 1; // false for NaN
  }

  /** Appends this endpoint as one snapshot line (no line break). */
  public void appendTo(StringBuilder out) {
    out.append(address)
        .append(' ')
        .append(state)
        .append(' ')
        .append(condition)
        .append(" zone=")
        .append(zone == null ? "-" : zone)
        .append(inRotation ? " in-rotation" : " out-of-rotation")
        .append(ejected ? " ejected" : "");
    if (isRamping()) {
      out.append(" ramping ").append((int) (weight * 100)).append('%');
    }
    if (inFlight >= 0) {
      out.append(" in-flight=").append(inFlight);
    }
    if (!Double.isNaN(estimateNanos)) {
      out.append(" estimate=").append(millis(estimateNanos));
    }
    if (!Double.isNaN(costNanos)) {
      out.append(" cost=").append(millis(costNanos));
    }
    if (openStreams >= 0) {
      out.append(" streams=").append(openStreams);
    }
    if (note != null) {
      out.append(' ').append(note);
    }
  }

  /** Nanoseconds as milliseconds with three significant digits or so: "0.412ms", "31.2ms". */
  public static String millis(double nanos) {
    double ms = nanos / 1e6;
    String pattern = ms >= 100 ? "%.0fms" : ms >= 10 ? "%.1fms" : ms >= 1 ? "%.2fms" : "%.3fms";
    return String.format(Locale.ROOT, pattern, ms);
  }

  @Override
  public String toString() {
    StringBuilder out = new StringBuilder();
    appendTo(out);
    return out.toString();
  }
}
