package io.github.kubegrpclb.core;

import java.util.Map;
import java.util.Set;

/**
 * Options of {@code kube_round_robin}, parsed from its JSON config: only {@code "outlierEjection"}
 * (see {@link OutlierEjectionConfig}). Immutable and thread-safe.
 */
final class KubeRoundRobinConfig {
  static final KubeRoundRobinConfig DEFAULTS =
      new KubeRoundRobinConfig(OutlierEjectionConfig.DEFAULTS);
  private static final Set<String> FIELDS = Set.of(OutlierEjectionConfig.FIELD);

  final OutlierEjectionConfig outlierEjection;

  private KubeRoundRobinConfig(OutlierEjectionConfig outlierEjection) {
    this.outlierEjection = outlierEjection;
  }

  /**
   * Parses the JSON object under {@code "kube_round_robin"}.
   *
   * @throws IllegalArgumentException naming the bad field, its value and what was expected
   */
  static KubeRoundRobinConfig parse(Map<String, ?> raw) {
    String policy = KubeRoundRobinLoadBalancer.POLICY_NAME;
    PolicyConfigFields.checkKnownFields(policy, raw, FIELDS);
    return new KubeRoundRobinConfig(OutlierEjectionConfig.parseFrom(policy, raw));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof KubeRoundRobinConfig
        && ((KubeRoundRobinConfig) o).outlierEjection.equals(outlierEjection);
  }

  @Override
  public int hashCode() {
    return outlierEjection.hashCode();
  }

  @Override
  public String toString() {
    return KubeRoundRobinLoadBalancer.POLICY_NAME + "{" + outlierEjection + "}";
  }
}
