package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.GrpcJavaVersion;
import io.grpc.Attributes;
import io.grpc.LoadBalancer;
import io.grpc.Status;
import io.grpc.protobuf.services.HealthCheckingLoadBalancerUtil;
import io.grpc.util.ForwardingLoadBalancer;
import io.grpc.util.GracefulSwitchLoadBalancer;
import java.util.Map;
import java.util.function.Function;

/**
 * Client-side health checking for this library's policies, as grpc-java's own round_robin has it:
 * with {@code "healthCheckConfig": {"serviceName": "..."}} in the service config, each connection
 * watches the server's {@code grpc.health.v1.Health} and a pod reporting NOT_SERVING counts as
 * failed. Needs grpc-services, an optional dependency: without it on the classpath the policies are
 * returned unwrapped. Stateless.
 *
 * <p>grpc-java's health-checking wrapper copies every pick's result (one allocation and ~20 ns per
 * RPC), so the policy runs behind it only while the service config asks for health checking; a
 * config change switches between the two with grpc-java's {@link GracefulSwitchLoadBalancer} (the
 * old balancer serves until the new one has connected), which reconnects every endpoint once.
 */
final class HealthChecking {
  private static final boolean AVAILABLE = isPresent();

  private HealthChecking() {}

  /**
   * Returns {@code policy}'s balancer for {@code helper}, behind grpc-java's health-checking
   * wrapper while the service config asks for it (when grpc-services is available).
   */
  static LoadBalancer wrap(
      LoadBalancer.Helper helper, Function<LoadBalancer.Helper, LoadBalancer> policy) {
    GrpcJavaVersion.check(); // a policy chosen by defaultLoadBalancingPolicy skips the parser
    if (!AVAILABLE) {
      return policy.apply(helper);
    }
    return new Switching(
        helper,
        new LoadBalancer.Factory() {
          @Override
          public LoadBalancer newLoadBalancer(LoadBalancer.Helper h) {
            return policy.apply(h);
          }
        });
  }

  /** Whether the channel's service config asks for health checking (grpc-java's own rule). */
  static boolean isRequested(Attributes resolutionAttributes) {
    Map<String, ?> config = resolutionAttributes.get(LoadBalancer.ATTR_HEALTH_CHECKING_CONFIG);
    return config != null && config.get("serviceName") != null;
  }

  private static boolean isPresent() {
    try {
      ClassLoader loader = HealthChecking.class.getClassLoader();
      Class.forName("io.grpc.protobuf.services.HealthCheckingLoadBalancerUtil", false, loader);
      Class.forName("io.grpc.util.GracefulSwitchLoadBalancer", false, loader);
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  /**
   * Runs the policy bare, or behind grpc-java's health-checking wrapper while the service config
   * asks for it. Loaded only when grpc-services is present. Called in the SynchronizationContext.
   */
  private static final class Switching extends ForwardingLoadBalancer {
    private final GracefulSwitchLoadBalancer switcher;
    private final LoadBalancer.Factory bare;
    private final LoadBalancer.Factory checked;

    Switching(LoadBalancer.Helper helper, LoadBalancer.Factory policy) {
      this.switcher = new GracefulSwitchLoadBalancer(helper);
      this.bare = policy;
      this.checked =
          new LoadBalancer.Factory() {
            @Override
            public LoadBalancer newLoadBalancer(LoadBalancer.Helper h) {
              return HealthCheckingLoadBalancerUtil.newHealthCheckingLoadBalancer(policy, h);
            }
          };
    }

    @Override
    protected LoadBalancer delegate() {
      return switcher;
    }

    @Override
    public Status acceptResolvedAddresses(ResolvedAddresses resolvedAddresses) {
      LoadBalancer.Factory wanted = isRequested(resolvedAddresses.getAttributes()) ? checked : bare;
      return switcher.acceptResolvedAddresses(
          resolvedAddresses.toBuilder()
              .setLoadBalancingPolicyConfig(
                  GracefulSwitchLoadBalancer.createLoadBalancingPolicyConfig(
                      wanted, resolvedAddresses.getLoadBalancingPolicyConfig()))
              .build());
    }

    // Still called by older callers; must not bypass the switch above (ForwardingLoadBalancer
    // would).
    @SuppressWarnings("InlineMeSuggester")
    @Deprecated
    @Override
    public void handleResolvedAddresses(ResolvedAddresses resolvedAddresses) {
      acceptResolvedAddresses(resolvedAddresses);
    }

    @Override
    public String toString() {
      return "HealthChecking.Switching(" + switcher.delegateType() + ")";
    }
  }
}
