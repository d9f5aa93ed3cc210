package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.PolicySelection;
import java.util.Map;

/**
 * Options of {@code kube_round_robin}, parsed from its JSON config: only the sections both policies
 * share ({@link BalancerConfig}). Immutable and thread-safe.
 */
final class KubeRoundRobinConfig {
  static final KubeRoundRobinConfig DEFAULTS = new KubeRoundRobinConfig(BalancerConfig.DEFAULTS);

  final BalancerConfig balancer;

  private KubeRoundRobinConfig(BalancerConfig balancer) {
    this.balancer = balancer;
  }

  /**
   * Parses the JSON object under {@code "kube_round_robin"}.
   *
   * @throws IllegalArgumentException naming the bad field, its value and what was expected
   */
  static KubeRoundRobinConfig parse(Map<String, ?> raw) {
    String policy = PolicySelection.KUBE_ROUND_ROBIN;
    PolicyConfigFields.checkKnownFields(policy, raw, BalancerConfig.FIELDS);
    return new KubeRoundRobinConfig(BalancerConfig.parse(policy, raw));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof KubeRoundRobinConfig other && other.balancer.equals(balancer);
  }

  @Override
  public int hashCode() {
    return balancer.hashCode();
  }

  @Override
  public String toString() {
    return PolicySelection.KUBE_ROUND_ROBIN + "{" + balancer + "}";
  }
}
