package io.github.kubegrpclb.core;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Load-aware zone spill options, the {@code "zoneSpill"} object both policies accept in their JSON
 * config (one parser for both); see {@link ZoneSpill} for the algorithm. On by default: {@code
 * {"enabled": false}} restores static topology hints (kube-proxy's behaviour). The load band is
 * HAZL's: {@code lowLoad} 0.8 and {@code highLoad} 2.0 RPCs in flight per local endpoint.
 *
 * <p>Immutable and thread-safe.
 */
final class ZoneSpillConfig extends PolicyConfigFields.Section {
  static final String FIELD = "zoneSpill";
  private static final Set<String> FIELDS = Set.of("enabled", "lowLoad", "highLoad", "interval");
  static final ZoneSpillConfig DEFAULTS = parse("policy", Map.of());

  final boolean enabled;
  final double lowLoad;
  final double highLoad;
  final long intervalNanos;

  private ZoneSpillConfig(boolean enabled, double lowLoad, double highLoad, long intervalNanos) {
    super(FIELD);
    this.enabled = enabled;
    this.lowLoad = lowLoad;
    this.highLoad = highLoad;
    this.intervalNanos = intervalNanos;
  }

  /** Parses the {@code "zoneSpill"} object of {@code policyRaw} (absent: the defaults). */
  static ZoneSpillConfig parseFrom(String policy, Map<String, ?> policyRaw) {
    return parse(policy, PolicyConfigFields.object(policy, policyRaw, FIELD));
  }

  static ZoneSpillConfig parse(String policy, Map<String, ?> raw) {
    String where = PolicyConfigFields.section(policy, FIELD, raw, FIELDS);
    double low = PolicyConfigFields.numberInRange(where, raw, "lowLoad", 0.8, 0.01, 1000);
    double high = PolicyConfigFields.numberInRange(where, raw, "highLoad", 2.0, 0.01, 1000);
    if (!(low < high)) {
      throw new IllegalArgumentException(
          where
              + " config: lowLoad "
              + low
              + " is not below highLoad "
              + high
              + " (expected: lowLoad < highLoad, such as 0.8 and 2.0; the gap is the hysteresis)");
    }
    return new ZoneSpillConfig(
        PolicyConfigFields.bool(where, raw, "enabled", true),
        low,
        high,
        PolicyConfigFields.durationAtLeastNanos(
            where, raw, "interval", 1_000_000_000L, PolicyConfigFields.MIN_PERIOD_NANOS));
  }

  @Override
  Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("enabled", enabled);
    json.put("lowLoad", lowLoad);
    json.put("highLoad", highLoad);
    json.put("interval", PolicyConfigFields.seconds(intervalNanos));
    return json;
  }
}
