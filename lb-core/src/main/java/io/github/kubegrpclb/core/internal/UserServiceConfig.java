package io.github.kubegrpclb.core.internal;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.annotation.Nullable;

/**
 * An application's own service config (method configs with retry or hedging policies and timeouts,
 * {@code retryThrottling}, {@code healthCheckConfig}) that a resolver option carries, so the
 * resolver can return it together with its load-balancing policy. grpc-java uses a resolver's
 * service config <em>instead of</em> the channel's {@code defaultServiceConfig}, never merged with
 * it: this is the one place where both meet. Stateless.
 */
public final class UserServiceConfig {
  /** The service-config fields that choose a policy: the resolver sets them, the user does not. */
  private static final List<String> POLICY_FIELDS =
      List.of("loadBalancingConfig", "loadBalancingPolicy");

  private UserServiceConfig() {}

  /**
   * Checks a service config given as maps, lists, strings, numbers and booleans (the JSON object
   * parsed, e.g. by Gson) and returns an immutable copy whose numbers are doubles, as grpc-java's
   * service-config parser requires ({@code Map.of("maxAttempts", 3)} works).
   *
   * @param option the option's name, for messages, e.g. {@code EndpointSliceOptions.serviceConfig}
   * @throws IllegalArgumentException naming the field and what was expected
   */
  public static Map<String, ?> validate(String option, Map<String, ?> config) {
    for (String field : POLICY_FIELDS) {
      if (config.containsKey(field)) {
        throw new IllegalArgumentException(
            option
                + ": the service config has \""
                + field
                + "\" (expected none: the resolver adds the policy; name it with ?policy= in the"
                + " target or the options' policy(name, config))");
      }
    }
    @SuppressWarnings("unchecked")
    Map<String, ?> copy = (Map<String, ?>) copy(option, "", config);
    return copy;
  }

  /** {@code config} with {@code loadBalancingConfig: [{policy: policyConfig}]} added. */
  public static Map<String, ?> withPolicy(
      Map<String, ?> config, String policy, Map<String, ?> policyConfig) {
    Map<String, Object> merged = new LinkedHashMap<>(config);
    merged.put("loadBalancingConfig", List.of(Map.of(policy, policyConfig)));
    return Collections.unmodifiableMap(merged);
  }

  private static Object copy(String option, String path, @Nullable Object value) {
    if (value instanceof Map) {
      Map<String, Object> out = new LinkedHashMap<>();
      for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
        if (!(entry.getKey() instanceof String)) {
          throw new IllegalArgumentException(
              option + ": key " + entry.getKey() + " at '" + path + "' is not a string");
        }
        String key = (String) entry.getKey();
        out.put(key, copy(option, path.isEmpty() ? key : path + "." + key, entry.getValue()));
      }
      return Collections.unmodifiableMap(out);
    }
    if (value instanceof List) {
      List<Object> out = new ArrayList<>();
      int i = 0;
      for (Object item : (List<?>) value) {
        out.add(copy(option, path + "[" + i++ + "]", item));
      }
      return Collections.unmodifiableList(out);
    }
    if (value instanceof Double || value instanceof String || value instanceof Boolean) {
      return value;
    }
    if (value instanceof Integer
        || value instanceof Long
        || value instanceof Short
        || value instanceof Byte
        || value instanceof Float
        || value instanceof BigDecimal
        || value instanceof BigInteger) {
      return ((Number) value).doubleValue();
    }
    throw new IllegalArgumentException(
        option
            + ": '"
            + path
            + "' is "
            + (value == null ? "null" : value.getClass().getName() + " " + value)
            + " (expected a JSON value: a Map, List, String, Number or Boolean)");
  }
}
