package io.github.kubegrpclb.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.LoadBalancerRegistry;
import org.junit.jupiter.api.Test;

class PolicySelectionTest {

  @Test
  void validate_unknownPolicy_listsWhatTheRegistryHas() {
    assertThatThrownBy(() -> PolicySelection.validate("fastest"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("policy=fastest is not a registered load-balancing policy")
        .hasMessageContaining("kube_round_robin", "peak_ewma", "pick_first", "round_robin")
        // grpc-util's, found through its META-INF/services like any policy on the class path
        .hasMessageContaining("outlier_detection_experimental")
        .hasMessageContaining("'channel'");
  }

  @Test
  void registeredPolicies_everyNameListedIsInTheRegistry() {
    assertThat(PolicySelection.registeredPolicies())
        .isNotEmpty()
        .allSatisfy(
            name ->
                assertThat(LoadBalancerRegistry.getDefaultRegistry().getProvider(name))
                    .isNotNull());
  }

  @Test
  void choose_targetWinsOverOptionsOverDefault() {
    assertThat(PolicySelection.choose("peak_ewma", "round_robin")).isEqualTo("peak_ewma");
    assertThat(PolicySelection.choose(null, "round_robin")).isEqualTo("round_robin");
    assertThat(PolicySelection.choose(null, null)).isEqualTo(PolicySelection.KUBE_ROUND_ROBIN);
  }
}
