package io.github.kubegrpclb.core.internal;

import io.grpc.LoadBalancerRegistry;
import io.grpc.NameResolver;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * How this library's resolvers choose the load-balancing policy, so a bare target balances per RPC
 * while a user's choice wins.
 *
 * <p>grpc-java prefers a resolver's service config to the channel's {@code defaultServiceConfig}.
 * So the resolvers return a service config naming one policy: {@value #DEFAULT_POLICY} unless the
 * target (or a resolver option) names another; and none at all for {@value #CHANNEL}, which hands
 * the choice back to the channel's {@code defaultServiceConfig} or {@code
 * defaultLoadBalancingPolicy}. Stateless.
 */
public final class PolicySelection {
  /** The policy a bare target gets. */
  public static final String DEFAULT_POLICY = "kube_round_robin";

  /** Policy value that defers to the channel's own default service config. */
  public static final String CHANNEL = "channel";

  private static final Pattern POLICY_NAME = Pattern.compile("[a-z0-9_]+");

  private PolicySelection() {}

  /**
   * Checks a policy value from a target or option.
   *
   * @throws IllegalArgumentException naming the value, the registered choices and the fix
   */
  public static String validate(String policy) {
    if (CHANNEL.equals(policy)) {
      return policy;
    }
    if (policy == null
        || !POLICY_NAME.matcher(policy).matches()
        || LoadBalancerRegistry.getDefaultRegistry().getProvider(policy) == null) {
      throw new IllegalArgumentException(
          "policy="
              + policy
              + " is not a registered load-balancing policy (expected one of kube_round_robin,"
              + " peak_ewma, round_robin, pick_first, any other registered policy, or '"
              + CHANNEL
              + "' to use the channel's defaultServiceConfig)");
    }
    return policy;
  }

  /**
   * The policy a resolver uses: the target's {@code policy} parameter, else the resolver option,
   * else {@value #DEFAULT_POLICY}; validated.
   *
   * @param fromTarget the target's parameter, or null
   * @param fromOptions the resolver option, or null
   * @throws IllegalArgumentException as {@link #validate}
   */
  public static String choose(String fromTarget, String fromOptions) {
    return validate(
        fromTarget != null ? fromTarget : fromOptions != null ? fromOptions : DEFAULT_POLICY);
  }

  /**
   * Returns the service config a resolver publishes for {@code policy}, or null for {@value
   * #CHANNEL} (the channel's default service config then applies).
   */
  public static NameResolver.ConfigOrError serviceConfig(
      String policy, NameResolver.ServiceConfigParser parser) {
    if (CHANNEL.equals(policy)) {
      return null;
    }
    return parser.parseServiceConfig(
        Map.of("loadBalancingConfig", List.of(Map.of(policy, Map.of()))));
  }
}
