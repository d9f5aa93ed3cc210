package io.github.kubegrpclb.core.internal;

import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import io.grpc.NameResolver;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import javax.annotation.Nullable;

/**
 * How this library's resolvers choose the load-balancing policy, so a bare target balances per RPC
 * while a user's choice wins; and the home of this library's policy names.
 *
 * <p>grpc-java prefers a resolver's service config to the channel's {@code defaultServiceConfig}.
 * So the resolvers return a service config naming one policy: {@value #DEFAULT_POLICY} unless the
 * target (or a resolver option) names another; and none at all for {@value #CHANNEL}, which hands
 * the choice back to the channel's {@code defaultServiceConfig} or {@code
 * defaultLoadBalancingPolicy}. Stateless.
 */
public final class PolicySelection {
  /** Per-RPC round robin over Kubernetes endpoints (lb-core). */
  public static final String KUBE_ROUND_ROBIN = "kube_round_robin";

  /** Power of two choices over peak-EWMA latency (lb-core). */
  public static final String PEAK_EWMA = "peak_ewma";

  /** The policy a bare target gets. */
  public static final String DEFAULT_POLICY = KUBE_ROUND_ROBIN;

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
              + " is not a registered load-balancing policy (expected one of "
              + String.join(", ", registeredPolicies())
              + ", or '"
              + CHANNEL
              + "' to use the channel's defaultServiceConfig)");
    }
    return policy;
  }

  /**
   * The policies the default registry has, as far as the class path shows them: those that
   * META-INF/services declares plus the two grpc-java registers itself. (The registry has no public
   * list; a provider registered in code is not listed.)
   */
  static Set<String> registeredPolicies() {
    Set<String> candidates = new TreeSet<>(List.of("pick_first", "round_robin"));
    try {
      for (LoadBalancerProvider provider :
          ServiceLoader.load(
              LoadBalancerProvider.class, LoadBalancerProvider.class.getClassLoader())) {
        candidates.add(provider.getPolicyName());
      }
    } catch (ServiceConfigurationError e) {
      // a broken provider on the class path: list the others
    }
    LoadBalancerRegistry registry = LoadBalancerRegistry.getDefaultRegistry();
    candidates.removeIf(name -> registry.getProvider(name) == null);
    return candidates;
  }

  /**
   * The policy a resolver uses: the target's {@code policy} parameter, else the resolver option,
   * else {@value #DEFAULT_POLICY}; validated.
   *
   * @param fromTarget the target's parameter, or null
   * @param fromOptions the resolver option, or null
   * @throws IllegalArgumentException as {@link #validate}
   */
  public static String choose(@Nullable String fromTarget, @Nullable String fromOptions) {
    return validate(
        fromTarget != null ? fromTarget : fromOptions != null ? fromOptions : DEFAULT_POLICY);
  }

  /**
   * Checks a policy's config (its JSON object as maps, strings, numbers) the way its provider will
   * parse it, so a resolver option fails when it is built, not on the first resolution.
   *
   * @return an immutable copy of {@code config}
   * @throws IllegalArgumentException naming the policy and what its provider rejected
   */
  public static Map<String, ?> validateConfig(String policy, Map<String, ?> config) {
    if (CHANNEL.equals(policy)) {
      throw new IllegalArgumentException(
          "policy=channel takes no config (the channel's defaultServiceConfig carries it)");
    }
    validate(policy);
    rejectNulls(policy, "", config);
    NameResolver.ConfigOrError parsed =
        LoadBalancerRegistry.getDefaultRegistry()
            .getProvider(policy)
            .parseLoadBalancingPolicyConfig(config);
    if (parsed.getError() != null) {
      throw new IllegalArgumentException(
          policy + " config " + config + ": " + parsed.getError().getDescription());
    }
    return Map.copyOf(config);
  }

  /* A JSON null has no meaning in a policy config; Map.copyOf would fail on it without a name. */
  private static void rejectNulls(String policy, String path, @Nullable Object value) {
    if (value instanceof Map<?, ?> map) {
      for (Map.Entry<?, ?> entry : map.entrySet()) {
        String field = path + (path.isEmpty() ? "" : ".") + entry.getKey();
        if (entry.getKey() == null || entry.getValue() == null) {
          throw new IllegalArgumentException(
              policy
                  + " config: '"
                  + field
                  + "' is null (expected: a value; leave the field out to get its default)");
        }
        rejectNulls(policy, field, entry.getValue());
      }
    } else if (value instanceof List<?> list) {
      for (int i = 0; i < list.size(); i++) {
        String element = path + "[" + i + "]";
        if (list.get(i) == null) {
          throw new IllegalArgumentException(
              policy + " config: '" + element + "' is null (expected: a value)");
        }
        rejectNulls(policy, element, list.get(i));
      }
    }
  }

  /**
   * Returns the service config a resolver publishes for the chosen {@code policy}, or null for
   * {@value #CHANNEL} (the channel's default service config then applies). The options' config goes
   * with it when the options named that policy; a target naming another policy gets its defaults.
   *
   * @param optionsPolicy the resolver option's policy, or null
   * @param optionsConfig the resolver option's config for {@code optionsPolicy}
   */
  @Nullable
  public static NameResolver.ConfigOrError serviceConfig(
      String policy,
      @Nullable String optionsPolicy,
      Map<String, ?> optionsConfig,
      NameResolver.ServiceConfigParser parser) {
    if (CHANNEL.equals(policy)) {
      return null;
    }
    Map<String, ?> config = policy.equals(optionsPolicy) ? optionsConfig : Map.of();
    return parser.parseServiceConfig(
        Map.of("loadBalancingConfig", List.of(Map.of(policy, config))));
  }
}
