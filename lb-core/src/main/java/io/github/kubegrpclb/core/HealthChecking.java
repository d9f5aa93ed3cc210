package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer;
import io.grpc.protobuf.services.HealthCheckingLoadBalancerUtil;
import java.util.function.Function;

/**
 * Client-side health checking for this library's policies, as grpc-java's own round_robin has it:
 * with {@code "healthCheckConfig": {"serviceName": "..."}} in the service config, each connection
 * watches the server's {@code grpc.health.v1.Health} and a pod reporting NOT_SERVING counts as
 * failed. Needs grpc-services, an optional dependency: without it on the classpath the policies are
 * returned unwrapped. Stateless.
 */
final class HealthChecking {
  private static final boolean AVAILABLE = isPresent();

  private HealthChecking() {}

  /** Returns {@code policy}'s balancer for {@code helper}, with health checking when available. */
  static LoadBalancer wrap(
      LoadBalancer.Helper helper, Function<LoadBalancer.Helper, LoadBalancer> policy) {
    if (!AVAILABLE) {
      return policy.apply(helper);
    }
    return Wrapper.wrap(
        helper,
        new LoadBalancer.Factory() {
          @Override
          public LoadBalancer newLoadBalancer(LoadBalancer.Helper h) {
            return policy.apply(h);
          }
        });
  }

  private static boolean isPresent() {
    try {
      Class.forName(
          "io.grpc.protobuf.services.HealthCheckingLoadBalancerUtil",
          false,
          HealthChecking.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  /** Loaded only when grpc-services is present. */
  private static final class Wrapper {
    static LoadBalancer wrap(LoadBalancer.Helper helper, LoadBalancer.Factory policy) {
      return HealthCheckingLoadBalancerUtil.newHealthCheckingLoadBalancer(policy, helper);
    }
  }
}
