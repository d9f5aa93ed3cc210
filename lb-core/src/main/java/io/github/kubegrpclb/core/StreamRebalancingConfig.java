package io.github.kubegrpclb.core;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Long-lived stream options, the {@code "streamRebalancing"} object both policies accept in their
 * JSON config (one parser for both); see {@link StreamRebalancer} for what they steer and
 * docs/streams.md for the application's part. Off by default: ending a stream is only safe when the
 * application re-opens it, which it must be written to do.
 *
 * <p>Immutable and thread-safe.
 */
final class StreamRebalancingConfig extends PolicyConfigFields.Section {
  static final String FIELD = "streamRebalancing";
  private static final Set<String> FIELDS =
      Set.of(
          "enabled",
          "interval",
          "tolerance",
          "maxSharePerInterval",
          "jitter",
          "terminationGrace",
          "drainShare");
  static final StreamRebalancingConfig OFF = parse("policy", Map.of());

  final boolean enabled;
  final long intervalNanos;
  final double tolerance;
  final double maxSharePerInterval;
  final double jitter;
  final long terminationGraceNanos;
  final double drainShare;

  private StreamRebalancingConfig(
      boolean enabled,
      long intervalNanos,
      double tolerance,
      double maxSharePerInterval,
      double jitter,
      long terminationGraceNanos,
      double drainShare) {
    super(FIELD);
    this.enabled = enabled;
    this.intervalNanos = intervalNanos;
    this.tolerance = tolerance;
    this.maxSharePerInterval = maxSharePerInterval;
    this.jitter = jitter;
    this.terminationGraceNanos = terminationGraceNanos;
    this.drainShare = drainShare;
  }

  /** Parses the {@code "streamRebalancing"} object of {@code policyRaw} (absent: off). */
  static StreamRebalancingConfig parseFrom(String policy, Map<String, ?> policyRaw) {
    return parse(policy, PolicyConfigFields.object(policy, policyRaw, FIELD));
  }

  static StreamRebalancingConfig parse(String policy, Map<String, ?> raw) {
    String where = PolicyConfigFields.section(policy, FIELD, raw, FIELDS);
    return new StreamRebalancingConfig(
        PolicyConfigFields.bool(where, raw, "enabled", false),
        PolicyConfigFields.durationAtLeastNanos(
            where, raw, "interval", 5_000_000_000L, PolicyConfigFields.MIN_PERIOD_NANOS),
        PolicyConfigFields.numberInRange(where, raw, "tolerance", 0.2, 0, 10),
        PolicyConfigFields.numberInRange(where, raw, "maxSharePerInterval", 0.25, 0.001, 1),
        PolicyConfigFields.numberInRange(where, raw, "jitter", 0.2, 0, 1),
        PolicyConfigFields.positiveDurationNanos(where, raw, "terminationGrace", 30_000_000_000L),
        PolicyConfigFields.numberInRange(where, raw, "drainShare", 0.5, 0.01, 1));
  }

  /** The time a terminating endpoint's streams are moved within. */
  long drainWindowNanos() {
    return Math.max(1, (long) (terminationGraceNanos * drainShare));
  }

  @Override
  Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("enabled", enabled);
    json.put("interval", PolicyConfigFields.seconds(intervalNanos));
    json.put("tolerance", tolerance);
    json.put("maxSharePerInterval", maxSharePerInterval);
    json.put("jitter", jitter);
    json.put("terminationGrace", PolicyConfigFields.seconds(terminationGraceNanos));
    json.put("drainShare", drainShare);
    return json;
  }
}
