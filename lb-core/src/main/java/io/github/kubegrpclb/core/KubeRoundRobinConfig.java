package io.github.kubegrpclb.core;

import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Options of {@code kube_round_robin}, parsed from its JSON config: {@code "outlierEjection"} (see
 * {@link OutlierEjectionConfig}) and {@code "subsetting"} (see {@link SubsettingConfig}). Immutable
 * and thread-safe.
 */
final class KubeRoundRobinConfig {
  static final KubeRoundRobinConfig DEFAULTS =
      new KubeRoundRobinConfig(OutlierEjectionConfig.DEFAULTS, SubsettingConfig.OFF);
  private static final Set<String> FIELDS =
      Set.of(OutlierEjectionConfig.FIELD, SubsettingConfig.FIELD);

  final OutlierEjectionConfig outlierEjection;
  final SubsettingConfig subsetting;

  private KubeRoundRobinConfig(OutlierEjectionConfig outlierEjection, SubsettingConfig subsetting) {
    this.outlierEjection = outlierEjection;
    this.subsetting = subsetting;
  }

  /**
   * Parses the JSON object under {@code "kube_round_robin"}.
   *
   * @throws IllegalArgumentException naming the bad field, its value and what was expected
   */
  static KubeRoundRobinConfig parse(Map<String, ?> raw) {
    String policy = KubeRoundRobinLoadBalancer.POLICY_NAME;
    PolicyConfigFields.checkKnownFields(policy, raw, FIELDS);
    return new KubeRoundRobinConfig(
        OutlierEjectionConfig.parseFrom(policy, raw), SubsettingConfig.parseFrom(policy, raw));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof KubeRoundRobinConfig
        && ((KubeRoundRobinConfig) o).outlierEjection.equals(outlierEjection)
        && ((KubeRoundRobinConfig) o).subsetting.equals(subsetting);
  }

  @Override
  public int hashCode() {
    return Objects.hash(outlierEjection, subsetting);
  }

  @Override
  public String toString() {
    return KubeRoundRobinLoadBalancer.POLICY_NAME + "{" + outlierEjection + ", " + subsetting + "}";
  }
}
