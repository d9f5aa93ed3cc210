package io.github.kubegrpclb.core;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Slow start options, the {@code "slowStart"} object both policies accept in their JSON config (one
 * parser for both). A new or reconnected endpoint joining endpoints that already serve gets a
 * weight that ramps over {@code window} as {@code max(minWeightPercent, (t / window) ^ (1 /
 * aggression))}, Envoy's slow-start formula (Armeria's ramp-up is the same idea in steps).
 *
 * <p>Immutable and thread-safe.
 */
final class SlowStartConfig extends PolicyConfigFields.Section {
  static final String FIELD = "slowStart";
  private static final Set<String> FIELDS =
      Set.of("enabled", "window", "minWeightPercent", "aggression");
  static final SlowStartConfig DEFAULTS = parse("policy", Map.of());

  final boolean enabled;
  final long windowNanos;
  final double minWeight;
  final double aggression;

  private SlowStartConfig(boolean enabled, long windowNanos, double minWeight, double aggression) {
    super(FIELD);
    this.enabled = enabled;
    this.windowNanos = windowNanos;
    this.minWeight = minWeight;
    this.aggression = aggression;
  }

  /** Parses the {@code "slowStart"} object of {@code policyRaw} (absent: the defaults). */
  static SlowStartConfig parseFrom(String policy, Map<String, ?> policyRaw) {
    return parse(policy, PolicyConfigFields.object(policy, policyRaw, FIELD));
  }

  static SlowStartConfig parse(String policy, Map<String, ?> raw) {
    String where = PolicyConfigFields.section(policy, FIELD, raw, FIELDS);
    return new SlowStartConfig(
        PolicyConfigFields.bool(where, raw, "enabled", true),
        PolicyConfigFields.positiveDurationNanos(where, raw, "window", 10_000_000_000L),
        PolicyConfigFields.numberInRange(where, raw, "minWeightPercent", 1, 0.01, 100) / 100,
        PolicyConfigFields.numberInRange(where, raw, "aggression", 0.5, 0.05, 20));
  }

  /** The weight, in (0, 1], of an endpoint {@code elapsedNanos} into its slow start. */
  double weight(long elapsedNanos) {
    if (elapsedNanos >= windowNanos) {
      return 1;
    }
    double ramp = Math.pow(Math.max(0, (double) elapsedNanos / windowNanos), 1 / aggression);
    return Math.max(minWeight, ramp);
  }

  @Override
  Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("enabled", enabled);
    json.put("window", PolicyConfigFields.seconds(windowNanos));
    json.put("minWeightPercent", minWeight * 100);
    json.put("aggression", aggression);
    return json;
  }
}
