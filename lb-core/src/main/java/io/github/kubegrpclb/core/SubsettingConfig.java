package io.github.kubegrpclb.core;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Deterministic subsetting options, the same for both policies: the JSON object under {@code
 * "subsetting"} in a policy's config, e.g. {@code {"peak_ewma": {"subsetting": {"subsetSize":
 * 30}}}}. {@code subsetSize} (1..1,000,000) turns it on: the client connects to about that many of
 * the Service's endpoints, chosen by {@link DeterministicSubset}; {@code clientIndex} (0..2^31-1)
 * sets this client's coordinate, otherwise taken as {@link ClientIndex} describes; {@code
 * clientCount} (1..2^31-1, only with {@code clientIndex}, greater than it) is the number of clients
 * and selects the deterministic aperture. Absent: every endpoint is used. Immutable and
 * thread-safe.
 */
final class SubsettingConfig {
  static final String FIELD = "subsetting";
  static final SubsettingConfig OFF = new SubsettingConfig(0, -1, 0);
  private static final Set<String> FIELDS = Set.of("subsetSize", "clientIndex", "clientCount");

  /** Endpoints per client; 0 when off. */
  final int subsetSize;

  /** This client's index, or -1 to derive it. */
  final long clientIndex;

  /** The number of clients, or 0 when not configured. */
  final int clientCount;

  private SubsettingConfig(int subsetSize, long clientIndex, int clientCount) {
    this.subsetSize = subsetSize;
    this.clientIndex = clientIndex;
    this.clientCount = clientCount;
  }

  boolean enabled() {
    return subsetSize > 0;
  }

  /**
   * Reads {@code "subsetting"} out of a policy's raw config.
   *
   * @throws IllegalArgumentException naming the bad field, its value and what was expected
   */
  static SubsettingConfig parseFrom(String policy, Map<String, ?> policyRaw) {
    if (policyRaw.get(FIELD) == null) {
      return OFF;
    }
    Map<String, ?> raw = PolicyConfigFields.object(policy, policyRaw, FIELD);
    String where = policy + " " + FIELD;
    PolicyConfigFields.checkKnownFields(where, raw, FIELDS);
    if (raw.get("subsetSize") == null) {
      throw new IllegalArgumentException(
          where + ": 'subsetSize' is missing (expected: an integer in [1, 1000000], e.g. 30)");
    }
    int size = PolicyConfigFields.intInRange(where, raw, "subsetSize", 0, 1, 1_000_000);
    int index = PolicyConfigFields.intInRange(where, raw, "clientIndex", -1, 0, Integer.MAX_VALUE);
    int count = PolicyConfigFields.intInRange(where, raw, "clientCount", 0, 1, Integer.MAX_VALUE);
    if (count > 0 && (index < 0 || index >= count)) {
      throw new IllegalArgumentException(
          where
              + ": 'clientCount' is "
              + count
              + " but 'clientIndex' is "
              + (index < 0 ? "missing" : Integer.toString(index))
              + " (expected: clientCount set together with a clientIndex in [0, clientCount - 1],"
              + " e.g. {\"clientIndex\": 3, \"clientCount\": 10}; or drop clientCount)");
    }
    return new SubsettingConfig(size, index, count);
  }

  /** The JSON form, for {@code toServiceConfig}; empty when off. */
  Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    if (enabled()) {
      json.put("subsetSize", (double) subsetSize);
      if (clientIndex >= 0) {
        json.put("clientIndex", (double) clientIndex);
      }
      if (clientCount > 0) {
        json.put("clientCount", (double) clientCount);
      }
    }
    return json;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SubsettingConfig other
        && other.subsetSize == subsetSize
        && other.clientIndex == clientIndex
        && other.clientCount == clientCount;
  }

  @Override
  public int hashCode() {
    return (subsetSize * 31 + Long.hashCode(clientIndex)) * 31 + clientCount;
  }

  @Override
  public String toString() {
    return FIELD + toJson();
  }
}
