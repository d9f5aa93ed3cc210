package io.github.kubegrpclb.testing.fleet;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Which default-on features a run turns off (and whether it subsets), rendered as the policy's JSON
 * config. The slow-start numbers are the documented defaults (docs/policies.md): the harness
 * computes the expected ramp from them. Immutable.
 */
public enum Features {
  /** Every default as shipped. */
  DEFAULTS(true, true, true, 0),
  /** {@code "slowStart": {"enabled": false}}. */
  NO_SLOW_START(false, true, true, 0),
  /** {@code "outlierEjection": {"enabled": false}}. */
  NO_EJECTION(true, false, true, 0),
  /** {@code "zoneSpill": {"enabled": false}} (static topology hints). */
  NO_ZONE_SPILL(true, true, false, 0),
  /** Every default-on feature off: plain round robin / plain P2C, the baseline. */
  ALL_OFF(false, false, false, 0),
  /** Defaults plus deterministic subsetting of 50 endpoints (client index 3). */
  SUBSET_50(true, true, true, 50);

  /** The documented slow-start window. */
  static final long SLOW_START_WINDOW_NANOS = 10_000_000_000L;

  /** The documented weight at the start of the ramp. */
  static final double SLOW_START_MIN_WEIGHT = 0.01;

  /** The documented aggression (0.5: quadratic). */
  static final double SLOW_START_AGGRESSION = 0.5;

  /** The documented panic cap of outlier ejection. */
  static final int MAX_EJECTION_PERCENT = 50;

  final boolean slowStart;
  final boolean ejection;
  final boolean zoneSpill;
  final int subsetSize;

  Features(boolean slowStart, boolean ejection, boolean zoneSpill, int subsetSize) {
    this.slowStart = slowStart;
    this.ejection = ejection;
    this.zoneSpill = zoneSpill;
    this.subsetSize = subsetSize;
  }

  /** The policy config, as a service config's {@code loadBalancingConfig} entry holds it. */
  public Map<String, Object> json() {
    Map<String, Object> json = new LinkedHashMap<>();
    if (!slowStart) {
      json.put("slowStart", Map.of("enabled", false));
    }
    if (!ejection) {
      json.put("outlierEjection", Map.of("enabled", false));
    }
    if (!zoneSpill) {
      json.put("zoneSpill", Map.of("enabled", false));
    }
    if (subsetSize > 0) {
      json.put("subsetting", Map.of("subsetSize", (double) subsetSize, "clientIndex", 3.0));
    }
    return json;
  }

  /** The documented slow-start weight {@code elapsedNanos} into a ramp. */
  static double rampWeight(long elapsedNanos) {
    if (elapsedNanos >= SLOW_START_WINDOW_NANOS) {
      return 1;
    }
    double ramp =
        Math.pow(
            Math.max(0, (double) elapsedNanos / SLOW_START_WINDOW_NANOS),
            1 / SLOW_START_AGGRESSION);
    return Math.max(SLOW_START_MIN_WEIGHT, ramp);
  }
}
