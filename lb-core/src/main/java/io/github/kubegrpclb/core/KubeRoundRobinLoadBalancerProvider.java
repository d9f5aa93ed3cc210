package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerProvider;
import io.grpc.NameResolver.ConfigOrError;
import io.grpc.Status;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Registers the {@code kube_round_robin} policy: per-RPC round robin over Kubernetes endpoints,
 * ready ones first, terminating-but-serving ones only while none is ready, same zone first when the
 * endpoints carry zone hints, failing endpoints ejected. Select it with {@code
 * {"loadBalancingConfig":[{"kube_round_robin":{}}]}}; its one option, {@code outlierEjection}, is
 * described in docs/policies.md. Found through {@code META-INF/services}; users never reference
 * this class.
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
    return KubeRoundRobinLoadBalancer.POLICY_NAME;
  }

  @Override
  public LoadBalancer newLoadBalancer(LoadBalancer.Helper helper) {
    return HealthChecking.wrap(
        helper,
        new LoadBalancer.Factory() {
          @Override
          public LoadBalancer newLoadBalancer(LoadBalancer.Helper h) {
            return new KubeRoundRobinLoadBalancer(
                h, bound -> ThreadLocalRandom.current().nextInt(bound));
          }
        });
  }

  @Override
  public ConfigOrError parseLoadBalancingPolicyConfig(Map<String, ?> rawConfig) {
    try {
      return ConfigOrError.fromConfig(KubeRoundRobinConfig.parse(rawConfig));
    } catch (IllegalArgumentException e) {
      return ConfigOrError.fromError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()));
    }
  }
}
