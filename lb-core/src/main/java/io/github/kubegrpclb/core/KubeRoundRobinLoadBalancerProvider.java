package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.PolicySelection;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerProvider;
import io.grpc.NameResolver.ConfigOrError;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Registers the {@code kube_round_robin} policy: per-RPC round robin over Kubernetes endpoints,
 * ready ones first, terminating-but-serving ones only while none is ready, same zone first when the
 * endpoints carry zone hints, failing endpoints ejected. Select it with {@code
 * {"loadBalancingConfig":[{"kube_round_robin":{}}]}}; its options, the sections both policies share
 * ({@code outlierEjection}, {@code slowStart}, {@code subsetting}, {@code zoneSpill}, {@code
 * streamRebalancing}), are described in docs/policies.md. Found through {@code META-INF/services};
 * users never reference this class.
 */
public final class KubeRoundRobinLoadBalancerProvider extends LoadBalancerProvider {
  /** Creates the provider; called by the service loader. */
  public KubeRoundRobinLoadBalancerProvider() {}

  @Override
  public boolean isAvailable() {
    return true;
  }

  @Override
  public int getPriority() {
    return 5;
  }

  @Override
  public String getPolicyName() {
    return PolicySelection.KUBE_ROUND_ROBIN;
  }

  @Override
  public LoadBalancer newLoadBalancer(LoadBalancer.Helper helper) {
    return HealthChecking.wrap(
        helper,
        h -> KubeRoundRobinPolicy.balancer(h, bound -> ThreadLocalRandom.current().nextInt(bound)));
  }

  @Override
  public ConfigOrError parseLoadBalancingPolicyConfig(Map<String, ?> rawConfig) {
    return PolicyConfigFields.configOrError(() -> KubeRoundRobinConfig.parse(rawConfig));
  }
}
