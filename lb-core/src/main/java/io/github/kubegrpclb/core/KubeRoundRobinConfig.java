package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.PolicySelection;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Options of {@code kube_round_robin}, parsed from its JSON config: {@code "outlierEjection"} (see
 * {@link OutlierEjectionConfig}), {@code "slowStart"} (see {@link SlowStartConfig}), {@code
 * "subsetting"} (see {@link SubsettingConfig}), {@code "zoneSpill"} (see {@link ZoneSpillConfig})
 * and {@code "streamRebalancing"} (see {@link StreamRebalancingConfig}). Immutable and thread-safe.
 */
final class KubeRoundRobinConfig {
  static final KubeRoundRobinConfig DEFAULTS =
      new KubeRoundRobinConfig(
          OutlierEjectionConfig.DEFAULTS,
          SlowStartConfig.DEFAULTS,
          SubsettingConfig.OFF,
          ZoneSpillConfig.DEFAULTS,
          StreamRebalancingConfig.OFF);
  private static final Set<String> FIELDS =
      Set.of(
          OutlierEjectionConfig.FIELD,
          SlowStartConfig.FIELD,
          SubsettingConfig.FIELD,
          ZoneSpillConfig.FIELD,
          StreamRebalancingConfig.FIELD);

  final OutlierEjectionConfig outlierEjection;
  final SlowStartConfig slowStart;
  final SubsettingConfig subsetting;
  final ZoneSpillConfig zoneSpill;
  final StreamRebalancingConfig streamRebalancing;

  private KubeRoundRobinConfig(
      OutlierEjectionConfig outlierEjection,
      SlowStartConfig slowStart,
      SubsettingConfig subsetting,
      ZoneSpillConfig zoneSpill,
      StreamRebalancingConfig streamRebalancing) {
    this.outlierEjection = outlierEjection;
    this.slowStart = slowStart;
    this.subsetting = subsetting;
    this.zoneSpill = zoneSpill;
    this.streamRebalancing = streamRebalancing;
  }

  /**
   * Parses the JSON object under {@code "kube_round_robin"}.
   *
   * @throws IllegalArgumentException naming the bad field, its value and what was expected
   */
  static KubeRoundRobinConfig parse(Map<String, ?> raw) {
    String policy = PolicySelection.KUBE_ROUND_ROBIN;
    PolicyConfigFields.checkKnownFields(policy, raw, FIELDS);
    return new KubeRoundRobinConfig(
        OutlierEjectionConfig.parseFrom(policy, raw),
        SlowStartConfig.parseFrom(policy, raw),
        SubsettingConfig.parseFrom(policy, raw),
        ZoneSpillConfig.parseFrom(policy, raw),
        StreamRebalancingConfig.parseFrom(policy, raw));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof KubeRoundRobinConfig other
        && other.outlierEjection.equals(outlierEjection)
        && other.slowStart.equals(slowStart)
        && other.subsetting.equals(subsetting)
        && other.zoneSpill.equals(zoneSpill)
        && other.streamRebalancing.equals(streamRebalancing);
  }

  @Override
  public int hashCode() {
    return Objects.hash(outlierEjection, slowStart, subsetting, zoneSpill, streamRebalancing);
  }

  @Override
  public String toString() {
    return PolicySelection.KUBE_ROUND_ROBIN
        + "{"
        + outlierEjection
        + ", "
        + slowStart
        + ", "
        + subsetting
        + ", "
        + zoneSpill
        + ", "
        + streamRebalancing
        + "}";
  }
}
