package io.github.kubegrpclb.testing;

import java.util.List;
import java.util.Map;

/**
 * Service configs as tests and examples pass them to {@code defaultServiceConfig}: a policy, and
 * the retry policy a user would add so an RPC caught on a crashing pod is retried elsewhere.
 */
public final class ServiceConfigs {
  private ServiceConfigs() {}

  /** {@code {"loadBalancingConfig":[{policy:{}}]}}. */
  public static Map<String, ?> policy(String policy) {
    return Map.of("loadBalancingConfig", List.of(Map.of(policy, Map.of())));
  }

  /** The policy with client-side health checking of the server's default ("") service. */
  public static Map<String, ?> policyWithHealthCheck(String policy) {
    return Map.of(
        "loadBalancingConfig",
        List.of(Map.of(policy, Map.of())),
        "healthCheckConfig",
        Map.of("serviceName", ""));
  }

  /** The policy plus, for every method, up to 5 attempts on UNAVAILABLE. */
  public static Map<String, ?> policyWithRetries(String policy) {
    return Map.of(
        "loadBalancingConfig",
        List.of(Map.of(policy, Map.of())),
        "methodConfig",
        List.of(Map.of("name", List.of(Map.of()), "retryPolicy", RETRY_ON_UNAVAILABLE)));
  }

  /**
   * The README's method config, without a policy: for every method a 5 s timeout and up to 5
   * attempts on UNAVAILABLE.
   */
  public static Map<String, ?> retries() {
    return Map.of(
        "methodConfig",
        List.of(
            Map.of(
                "name", List.of(Map.of()), "timeout", "5s", "retryPolicy", RETRY_ON_UNAVAILABLE)));
  }

  private static final Map<String, ?> RETRY_ON_UNAVAILABLE =
      Map.of(
          "maxAttempts",
          5.0,
          "initialBackoff",
          "0.01s",
          "maxBackoff",
          "0.1s",
          "backoffMultiplier",
          2.0,
          "retryableStatusCodes",
          List.of("UNAVAILABLE"));
}
