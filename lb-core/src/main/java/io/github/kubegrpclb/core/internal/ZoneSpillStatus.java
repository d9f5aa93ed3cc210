package io.github.kubegrpclb.core.internal;

import java.util.Locale;
import javax.annotation.Nullable;

/**
 * A balancer's load-aware zone spill at one instant, while a zone or node preference applies: how
 * many endpoints outside the preference spill put in rotation, and the load that decided it. The
 * source of the {@code zone_spill} gauges, of the snapshot's spill line and of the log line written
 * when the spill changes. Immutable; the balancer publishes a new one from its
 * SynchronizationContext.
 */
public final class ZoneSpillStatus {
  /** The client's zone, or null when unknown (a node preference without a zone). */
  @Nullable public final String clientZone;

  /** Endpoints outside the preference that are in rotation because of spill. */
  public final int spilled;

  /** Ready endpoints outside the preference: the most spill can add. */
  public final int others;

  /**
   * The load the hinted endpoints would carry without spill, in RPCs in flight per endpoint, as
   * last estimated; NaN before the first estimate.
   */
  public final double projectedLoad;

  /** The band's bottom: below it, spilled endpoints leave. */
  public final double lowLoad;

  /** The band's top: above it, endpoints outside the preference join. */
  public final double highLoad;

  public ZoneSpillStatus(
      @Nullable String clientZone,
      int spilled,
      int others,
      double projectedLoad,
      double lowLoad,
      double highLoad) {
    this.clientZone = clientZone;
    this.spilled = spilled;
    this.others = others;
    this.projectedLoad = projectedLoad;
    this.lowLoad = lowLoad;
    this.highLoad = highLoad;
  }

  /**
   * The snapshot line (without a line break): {@code zone spill: 2 of 3 others in rotation (local
   * load 2.40 in flight per endpoint, band 0.8-2.0)} or {@code zone spill: none (local load 0.30 in
   * flight per endpoint, band 0.8-2.0)}.
   */
  public String describe() {
    StringBuilder out = new StringBuilder("zone spill: ");
    if (spilled == 0) {
      out.append("none");
    } else {
      out.append(spilled).append(" of ").append(others).append(" others in rotation");
    }
    out.append(" (local load "); // the projected load, named as its metric (zone_spill.local_load)
    if (Double.isNaN(projectedLoad)) {
      out.append("not yet measured");
    } else {
      out.append(String.format(Locale.ROOT, "%.2f", projectedLoad))
          .append(" in flight per endpoint");
    }
    return out.append(", band ")
        .append(lowLoad)
        .append('-')
        .append(highLoad)
        .append(')')
        .toString();
  }

  @Override
  public String toString() {
    return describe();
  }
}
