package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerProvider;
import io.grpc.NameResolver.ConfigOrError;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Registers the {@code peak_ewma} policy: power of two choices over peak-EWMA latency times
 * in-flight RPCs, so a slow-but-alive pod gets little traffic. Select it with {@code
 * {"loadBalancingConfig":[{"peak_ewma":{}}]}}; options are described in {@link PeakEwmaConfig}.
 * Found through {@code META-INF/services}; users never reference this class.
 */
public final class PeakEwmaLoadBalancerProvider extends LoadBalancerProvider {

  /** Creates the provider; called by the service loader. */
  public PeakEwmaLoadBalancerProvider() {}

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
    return PeakEwmaConfig.POLICY_NAME;
  }

  @Override
  public LoadBalancer newLoadBalancer(LoadBalancer.Helper helper) {
    return HealthChecking.wrap(
        helper,
        h ->
            PeakEwmaPolicy.balancer(
                h, System::nanoTime, bound -> ThreadLocalRandom.current().nextInt(bound)));
  }

  @Override
  public ConfigOrError parseLoadBalancingPolicyConfig(Map<String, ?> rawConfig) {
    return PolicyConfigFields.configOrError(() -> PeakEwmaConfig.parse(rawConfig));
  }
}
