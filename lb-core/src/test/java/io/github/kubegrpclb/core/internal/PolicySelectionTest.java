package io.github.kubegrpclb.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import io.grpc.NameResolver.ConfigOrError;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PolicySelectionTest {

  @Test
  void validate_unknownPolicy_listsWhatTheRegistryHas() {
    assertThatThrownBy(() -> PolicySelection.validate("fastest"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("policy=fastest is not a registered load-balancing policy")
        .hasMessageContaining("kube_round_robin", "peak_ewma", "pick_first", "round_robin")
        // registered by this module's test resources, so no hard-coded list can know it
        .hasMessageContaining(TestOnlyProvider.NAME)
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

  /** A policy only this module's tests register (src/test/resources/META-INF/services). */
  public static final class TestOnlyProvider extends LoadBalancerProvider {
    static final String NAME = "test_only_policy";

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
      return NAME;
    }

    @Override
    public LoadBalancer newLoadBalancer(LoadBalancer.Helper helper) {
      throw new UnsupportedOperationException("listed, never used");
    }

    @Override
    public ConfigOrError parseLoadBalancingPolicyConfig(Map<String, ?> rawConfig) {
      return ConfigOrError.fromConfig(NAME);
    }
  }
}
