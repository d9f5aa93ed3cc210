package io.github.kubegrpclb.core;

import java.util.Map;
import java.util.Set;

/**
 * The config sections both policies share, parsed once: {@code "outlierEjection"} ({@link
 * OutlierEjectionConfig}), {@code "slowStart"} ({@link SlowStartConfig}), {@code "subsetting"}
 * ({@link SubsettingConfig}), {@code "zoneSpill"} ({@link ZoneSpillConfig}) and {@code
 * "streamRebalancing"} ({@link StreamRebalancingConfig}). Each policy's config holds one; the
 * balancer's stages read their section from it. Immutable and thread-safe.
 */
record BalancerConfig(
    OutlierEjectionConfig outlierEjection,
    SlowStartConfig slowStart,
    SubsettingConfig subsetting,
    ZoneSpillConfig zoneSpill,
    StreamRebalancingConfig streamRebalancing) {
  static final BalancerConfig DEFAULTS =
      new BalancerConfig(
          OutlierEjectionConfig.DEFAULTS,
          SlowStartConfig.DEFAULTS,
          SubsettingConfig.OFF,
          ZoneSpillConfig.DEFAULTS,
          StreamRebalancingConfig.OFF);

  /** The JSON fields of the sections, for a policy's check of known fields. */
  static final Set<String> FIELDS =
      Set.of(
          OutlierEjectionConfig.FIELD,
          SlowStartConfig.FIELD,
          SubsettingConfig.FIELD,
          ZoneSpillConfig.FIELD,
          StreamRebalancingConfig.FIELD);

  /**
   * Parses the shared sections of a policy's JSON object; absent sections take their defaults.
   *
   * @throws IllegalArgumentException naming the policy, the bad field, its value and what was
   *     expected
   */
  static BalancerConfig parse(String policy, Map<String, ?> raw) {
    return new BalancerConfig(
        OutlierEjectionConfig.parseFrom(policy, raw),
        SlowStartConfig.parseFrom(policy, raw),
        SubsettingConfig.parseFrom(policy, raw),
        ZoneSpillConfig.parseFrom(policy, raw),
        StreamRebalancingConfig.parseFrom(policy, raw));
  }

  /** Adds the sections' JSON forms to a policy's options; the ones off by default only when on. */
  void putJson(Map<String, Object> options) {
    options.put(OutlierEjectionConfig.FIELD, outlierEjection.toJson());
    if (subsetting.enabled()) {
      options.put(SubsettingConfig.FIELD, subsetting.toJson());
    }
    options.put(SlowStartConfig.FIELD, slowStart.toJson());
    options.put(ZoneSpillConfig.FIELD, zoneSpill.toJson());
    if (streamRebalancing.enabled) {
      options.put(StreamRebalancingConfig.FIELD, streamRebalancing.toJson());
    }
  }

  @Override
  public String toString() {
    return outlierEjection
        + ", "
        + slowStart
        + ", "
        + subsetting
        + ", "
        + zoneSpill
        + ", "
        + streamRebalancing;
  }
}
