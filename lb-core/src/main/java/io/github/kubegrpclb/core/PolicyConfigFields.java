package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.GrpcJavaVersion;
import io.grpc.NameResolver.ConfigOrError;
import io.grpc.Status;
import java.math.BigDecimal;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.annotation.Nullable;

/**
 * Reads typed fields out of a policy's raw JSON service config (as grpc-java hands it over: maps,
 * strings, doubles) and throws {@link IllegalArgumentException} with a message naming the policy,
 * the field, the value and what was expected. Stateless.
 */
final class PolicyConfigFields {
  /** Protobuf JSON duration, the form gRPC service configs use: "10s", "0.030s". */
  private static final Pattern DURATION = Pattern.compile("(-?)(\\d+)(\\.\\d{1,9})?s");

  /** The shortest period a timer-driven field accepts (ejection interval, probes, zone spill). */
  static final long MIN_PERIOD_NANOS = 10_000_000L;

  private PolicyConfigFields() {}

  /**
   * Runs a provider's config parser and returns its config, or its {@link IllegalArgumentException}
   * as an INVALID_ARGUMENT error: providers return errors, never throw. An unsupported grpc-java is
   * a FAILED_PRECONDITION error naming the version found and the range.
   */
  static ConfigOrError configOrError(Supplier<?> parser) {
    try {
      GrpcJavaVersion.check();
    } catch (IllegalStateException e) {
      return ConfigOrError.fromError(Status.FAILED_PRECONDITION.withDescription(e.getMessage()));
    }
    try {
      return ConfigOrError.fromConfig(parser.get());
    } catch (IllegalArgumentException e) {
      return ConfigOrError.fromError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()));
    }
  }

  static void checkKnownFields(String policy, Map<String, ?> raw, Set<String> known) {
    for (String field : raw.keySet()) {
      if (!known.contains(field)) {
        throw new IllegalArgumentException(
            policy
                + " config: unknown field '"
                + field
                + "' (expected one of "
                + new TreeSet<>(known)
                + ")");
      }
    }
  }

  /** Returns a positive duration in nanoseconds, or {@code defaultNanos} when absent. */
  static long positiveDurationNanos(
      String policy, Map<String, ?> raw, String field, long defaultNanos) {
    Object value = raw.get(field);
    if (value == null) {
      return defaultNanos;
    }
    Matcher m = value instanceof String text ? DURATION.matcher(text) : null;
    if (m == null || !m.matches()) {
      throw new IllegalArgumentException(
          describe(policy, field, value)
              + " (expected: a duration string such as \"10s\" or \"0.030s\")");
    }
    BigDecimal seconds = new BigDecimal(m.group(2) + (m.group(3) == null ? "" : m.group(3)));
    if (!m.group(1).isEmpty() || seconds.signum() == 0) {
      throw new IllegalArgumentException(
          describe(policy, field, value) + " (expected: a positive duration)");
    }
    BigDecimal nanos = seconds.movePointRight(9);
    if (nanos.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
      throw new IllegalArgumentException(
          describe(policy, field, value) + " (expected: at most 292 years)");
    }
    return nanos.longValueExact();
  }

  /**
   * Returns a duration of at least {@code minNanos}, or {@code defaultNanos} when absent: for
   * periods that drive a timer, where a nanosecond would spin it.
   */
  static long durationAtLeastNanos(
      String policy, Map<String, ?> raw, String field, long defaultNanos, long minNanos) {
    long nanos = positiveDurationNanos(policy, raw, field, defaultNanos);
    if (nanos < minNanos) {
      throw new IllegalArgumentException(
          describe(policy, field, raw.get(field))
              + " (expected: at least \""
              + seconds(minNanos)
              + "\"; a shorter period would run its timer almost continuously)");
    }
    return nanos;
  }

  /** Returns an integer in {@code [min, max]}, or {@code defaultValue} when absent. */
  static int intInRange(
      String policy, Map<String, ?> raw, String field, int defaultValue, int min, int max) {
    Object value = raw.get(field);
    if (value == null) {
      return defaultValue;
    }
    if (!(value instanceof Number n)) {
      throw new IllegalArgumentException(
          describe(policy, field, value) + " (expected: an integer in [" + min + ", " + max + "])");
    }
    double number = n.doubleValue();
    if (number != Math.rint(number) || number < min || number > max) {
      throw new IllegalArgumentException(
          describe(policy, field, value) + " (expected: an integer in [" + min + ", " + max + "])");
    }
    return (int) number;
  }

  /** Returns a number in {@code [min, max]}, or {@code defaultValue} when absent. */
  static double numberInRange(
      String policy,
      Map<String, ?> raw,
      String field,
      double defaultValue,
      double min,
      double max) {
    Object value = raw.get(field);
    if (value == null) {
      return defaultValue;
    }
    if (!(value instanceof Number n) || !(n.doubleValue() >= min && n.doubleValue() <= max)) {
      throw new IllegalArgumentException(
          describe(policy, field, value) + " (expected: a number in [" + min + ", " + max + "])");
    }
    return n.doubleValue();
  }

  /** Returns a boolean, or {@code defaultValue} when absent. */
  static boolean bool(String policy, Map<String, ?> raw, String field, boolean defaultValue) {
    Object value = raw.get(field);
    if (value == null) {
      return defaultValue;
    }
    if (!(value instanceof Boolean b)) {
      throw new IllegalArgumentException(
          describe(policy, field, value) + " (expected: true or false)");
    }
    return b;
  }

  /** Returns a JSON object, or an empty map when absent. */
  @SuppressWarnings("unchecked")
  static Map<String, ?> object(String policy, Map<String, ?> raw, String field) {
    Object value = raw.get(field);
    if (value == null) {
      return Map.of();
    }
    if (!(value instanceof Map)) {
      throw new IllegalArgumentException(
          describe(policy, field, value) + " (expected: a JSON object such as {})");
    }
    return (Map<String, ?>) value;
  }

  /**
   * Returns a set of gRPC status codes, given as names ("UNAVAILABLE") or numbers (14) as in a
   * retry policy's {@code retryableStatusCodes}; {@code defaultCodes} when absent. OK is refused.
   */
  static EnumSet<Status.Code> statusCodes(
      String policy, Map<String, ?> raw, String field, EnumSet<Status.Code> defaultCodes) {
    Object value = raw.get(field);
    if (value == null) {
      return EnumSet.copyOf(defaultCodes);
    }
    String expected =
        " (expected: a list of gRPC status code names other than OK, such as [\"UNAVAILABLE\"])";
    if (!(value instanceof List)) {
      throw new IllegalArgumentException(describe(policy, field, value) + expected);
    }
    EnumSet<Status.Code> codes = EnumSet.noneOf(Status.Code.class);
    for (Object item : (List<?>) value) {
      Status.Code code = null;
      if (item instanceof String) {
        for (Status.Code candidate : Status.Code.values()) {
          if (candidate.name().equals(item)) {
            code = candidate;
          }
        }
      } else if (item instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
        int number = n.intValue();
        if (number >= 0 && number < Status.Code.values().length) {
          code = Status.fromCodeValue(number).getCode();
        }
      }
      if (code == null || code == Status.Code.OK) {
        throw new IllegalArgumentException(
            describe(policy, field, value) + ": bad entry " + item + expected);
      }
      codes.add(code);
    }
    return codes;
  }

  /**
   * Checks the fields of a policy's nested object {@code field} (such as {@code "slowStart"})
   * against {@code known} and returns where they are, e.g. "peak_ewma slowStart", for the messages
   * of the readers above.
   */
  static String section(String policy, String field, Map<String, ?> raw, Set<String> known) {
    String where = policy + " " + field;
    checkKnownFields(where, raw, known);
    return where;
  }

  /** The protobuf JSON duration that {@link #positiveDurationNanos} reads: "10s", "0.03s". */
  static String seconds(long nanos) {
    return BigDecimal.valueOf(nanos, 9).stripTrailingZeros().toPlainString() + "s";
  }

  /**
   * A parsed nested object of a policy config (such as {@code "slowStart"}): equal to another of
   * the same field when their JSON forms are equal, and shown as the field and its JSON form.
   * Subclasses are immutable, so their JSON form is too.
   */
  abstract static class Section {
    private final String field;

    Section(String field) {
      this.field = field;
    }

    /** The JSON form, as the section's parser reads it. */
    abstract Map<String, Object> toJson();

    @Override
    public final boolean equals(Object o) {
      return o instanceof Section other
          && field.equals(other.field)
          && toJson().equals(other.toJson());
    }

    @Override
    public final int hashCode() {
      return toJson().hashCode();
    }

    @Override
    public final String toString() {
      return field + toJson();
    }
  }

  private static String describe(String policy, String field, @Nullable Object value) {
    String shown = value instanceof String ? "\"" + value + "\"" : String.valueOf(value);
    String type = value == null ? "null" : value.getClass().getSimpleName();
    return policy + " config field '" + field + "': got " + shown + " (" + type + ")";
  }
}
