package io.github.kubegrpclb.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UserServiceConfigTest {

  @Test
  void validate_integers_becomeDoublesAsGrpcParserWants() {
    Map<String, ?> copy =
        UserServiceConfig.validate(
            "opt",
            Map.of("methodConfig", List.of(Map.of("retryPolicy", Map.of("maxAttempts", 3)))));

    assertThat(copy)
        .isEqualTo(
            Map.of("methodConfig", List.of(Map.of("retryPolicy", Map.of("maxAttempts", 3.0)))));
  }

  @Test
  void validate_policyField_rejectedNamingTheFix() {
    assertThatThrownBy(
            () -> UserServiceConfig.validate("opt", Map.of("loadBalancingPolicy", "round_robin")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("opt: the service config has \"loadBalancingPolicy\"")
        .hasMessageContaining("?policy=");
  }

  @Test
  void validate_nonJsonValue_rejectedNamingThePath() {
    assertThatThrownBy(
            () ->
                UserServiceConfig.validate(
                    "opt", Map.of("methodConfig", List.of(Map.of("timeout", new Object())))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'methodConfig[0].timeout' is java.lang.Object");
  }

  @Test
  void withPolicy_addsLoadBalancingConfigAndKeepsTheRest() {
    Map<String, Object> merged =
        Map.copyOf(
            UserServiceConfig.withPolicy(
                Map.of("retryThrottling", Map.of("maxTokens", 10.0)), "peak_ewma", Map.of()));

    assertThat(merged)
        .containsEntry("retryThrottling", Map.of("maxTokens", 10.0))
        .containsEntry("loadBalancingConfig", List.of(Map.of("peak_ewma", Map.of())));
  }
}
