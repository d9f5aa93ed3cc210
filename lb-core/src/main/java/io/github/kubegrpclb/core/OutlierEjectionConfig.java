package io.github.kubegrpclb.core;

import io.grpc.Status;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Outlier ejection options, the {@code "outlierEjection"} object that both policies accept in their
 * JSON config (one parser, so both policies read it the same way). Defaults are on: a policy config
 * without the object ejects with the values below.
 *
 * <p>Immutable and thread-safe.
 */
final class OutlierEjectionConfig extends PolicyConfigFields.Section {
  static final String FIELD = "outlierEjection";
  private static final Set<String> FIELDS =
      Set.of(
          "enabled",
          "consecutiveFailures",
          "failureStatusCodes",
          "interval",
          "successRateStdevFactor",
          "successRateMinimumHosts",
          "successRateRequestVolume",
          "baseEjectionTime",
          "maxEjectionTime",
          "maxEjectionPercent",
          "probeTimeout",
          "unresponsiveTime",
          "slowFactor");
  static final EnumSet<Status.Code> DEFAULT_FAILURE_CODES =
      EnumSet.of(
          Status.Code.UNAVAILABLE,
          Status.Code.DEADLINE_EXCEEDED,
          Status.Code.INTERNAL,
          Status.Code.UNKNOWN,
          Status.Code.DATA_LOSS,
          Status.Code.UNIMPLEMENTED);
  static final OutlierEjectionConfig DEFAULTS = parse("policy", Map.of());

  final boolean enabled;
  final int consecutiveFailures;
  final EnumSet<Status.Code> failureCodes;
  final long intervalNanos;
  final double stdevFactor;
  final int minimumHosts;
  final int requestVolume;
  final long baseEjectionNanos;
  final long maxEjectionNanos;
  final int maxEjectionPercent;
  final long probeTimeoutNanos;
  final long unresponsiveNanos;
  final double slowFactor;

  private OutlierEjectionConfig(
      boolean enabled,
      int consecutiveFailures,
      EnumSet<Status.Code> failureCodes,
      long intervalNanos,
      double stdevFactor,
      int minimumHosts,
      int requestVolume,
      long baseEjectionNanos,
      long maxEjectionNanos,
      int maxEjectionPercent,
      long probeTimeoutNanos,
      long unresponsiveNanos,
      double slowFactor) {
    super(FIELD);
    this.enabled = enabled;
    this.consecutiveFailures = consecutiveFailures;
    this.failureCodes = failureCodes;
    this.intervalNanos = intervalNanos;
    this.stdevFactor = stdevFactor;
    this.minimumHosts = minimumHosts;
    this.requestVolume = requestVolume;
    this.baseEjectionNanos = baseEjectionNanos;
    this.maxEjectionNanos = maxEjectionNanos;
    this.maxEjectionPercent = maxEjectionPercent;
    this.probeTimeoutNanos = probeTimeoutNanos;
    this.unresponsiveNanos = unresponsiveNanos;
    this.slowFactor = slowFactor;
  }

  /**
   * Parses the {@code "outlierEjection"} object of {@code policyRaw} (absent: the defaults).
   *
   * @throws IllegalArgumentException naming the policy, the field, the value and what was expected
   */
  static OutlierEjectionConfig parseFrom(String policy, Map<String, ?> policyRaw) {
    return parse(policy, PolicyConfigFields.object(policy, policyRaw, FIELD));
  }

  static OutlierEjectionConfig parse(String policy, Map<String, ?> raw) {
    String where = PolicyConfigFields.section(policy, FIELD, raw, FIELDS);
    long base = PolicyConfigFields.positiveDurationNanos(where, raw, "baseEjectionTime", s(1));
    long max = PolicyConfigFields.positiveDurationNanos(where, raw, "maxEjectionTime", s(300));
    if (max < base) {
      throw new IllegalArgumentException(
          where
              + " config: maxEjectionTime "
              + seconds(max)
              + " is below baseEjectionTime "
              + seconds(base)
              + " (expected: maxEjectionTime >= baseEjectionTime)");
    }
    return new OutlierEjectionConfig(
        PolicyConfigFields.bool(where, raw, "enabled", true),
        PolicyConfigFields.intInRange(where, raw, "consecutiveFailures", 5, 1, 1_000_000),
        PolicyConfigFields.statusCodes(where, raw, "failureStatusCodes", DEFAULT_FAILURE_CODES),
        PolicyConfigFields.durationAtLeastNanos(
            where, raw, "interval", s(1), PolicyConfigFields.MIN_PERIOD_NANOS),
        PolicyConfigFields.numberInRange(where, raw, "successRateStdevFactor", 1.9, 0, 100),
        PolicyConfigFields.intInRange(where, raw, "successRateMinimumHosts", 5, 1, 1_000_000),
        PolicyConfigFields.intInRange(
            where, raw, "successRateRequestVolume", 100, 1, Integer.MAX_VALUE),
        base,
        max,
        PolicyConfigFields.intInRange(where, raw, "maxEjectionPercent", 50, 0, 100),
        PolicyConfigFields.durationAtLeastNanos(
            where, raw, "probeTimeout", s(1), PolicyConfigFields.MIN_PERIOD_NANOS),
        PolicyConfigFields.durationAtLeastNanos(
            where, raw, "unresponsiveTime", s(1), PolicyConfigFields.MIN_PERIOD_NANOS),
        slowFactor(where, raw));
  }

  private static double slowFactor(String where, Map<String, ?> raw) {
    double factor = PolicyConfigFields.numberInRange(where, raw, "slowFactor", 2.5, 0, 1000);
    if (factor > 0 && factor <= 1) {
      throw new IllegalArgumentException(
          where
              + " config field 'slowFactor': got "
              + factor
              + " (expected: 0 to turn latency ejection off, or a factor above 1)");
    }
    return factor;
  }

  /** The most endpoints that may be out at once among {@code endpoints}. */
  int maxEjected(int endpoints) {
    return (int) ((long) endpoints * maxEjectionPercent / 100);
  }

  /** How long an endpoint ejected for the {@code times}-th time in a row stays out at least. */
  long ejectionNanos(int times) {
    long nanos = baseEjectionNanos * Math.max(1, times);
    return nanos / Math.max(1, times) != baseEjectionNanos
        ? maxEjectionNanos
        : Math.min(nanos, maxEjectionNanos);
  }

  /** The JSON form, as {@link #parse} reads it. */
  @Override
  Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("enabled", enabled);
    json.put("consecutiveFailures", (double) consecutiveFailures);
    List<String> codes = new ArrayList<>();
    failureCodes.forEach(code -> codes.add(code.name()));
    json.put("failureStatusCodes", codes);
    json.put("interval", seconds(intervalNanos));
    json.put("successRateStdevFactor", stdevFactor);
    json.put("successRateMinimumHosts", (double) minimumHosts);
    json.put("successRateRequestVolume", (double) requestVolume);
    json.put("baseEjectionTime", seconds(baseEjectionNanos));
    json.put("maxEjectionTime", seconds(maxEjectionNanos));
    json.put("maxEjectionPercent", (double) maxEjectionPercent);
    json.put("probeTimeout", seconds(probeTimeoutNanos));
    json.put("unresponsiveTime", seconds(unresponsiveNanos));
    json.put("slowFactor", slowFactor);
    return json;
  }

  private static long s(long seconds) {
    return seconds * 1_000_000_000L;
  }

  private static String seconds(long nanos) {
    return PolicyConfigFields.seconds(nanos);
  }
}
