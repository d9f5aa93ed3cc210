package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The band arithmetic of stream rebalancing, and its config's defaults and messages. */
class RebalancePlanTest {
  @Test
  void needed_tenStreamsOnEightEndpoints_isBalancedAsFarAsCountsAllow() {
    assertThat(RebalancePlan.needed(new int[] {2, 2, 1, 1, 1, 1, 1, 1}, 0.2)).isZero();
    assertThat(RebalancePlan.needed(new int[] {1, 0}, 0.2)).isZero();
  }

  @Test
  void needed_scaleUp4To8Under64Streams_is28() {
    assertThat(RebalancePlan.needed(new int[] {16, 16, 16, 16, 0, 0, 0, 0}, 0.2)).isEqualTo(28);
  }

  @Test
  void ends_takesFromTheBusiestFirst_andNeverBelowTheFairShare() {
    assertThat(RebalancePlan.ends(new int[] {12, 8, 4}, 0.2, 100)).containsExactly(3, 0, 0);
    assertThat(RebalancePlan.ends(new int[] {9, 9, 9, 9, 9, 9, 9, 1}, 0.2, 100))
        .containsExactly(1, 1, 1, 1, 1, 1, 0, 0);
  }

  @Test
  void ends_budgetCapsTheRound() {
    assertThat(RebalancePlan.ends(new int[] {16, 16, 16, 16, 0, 0, 0, 0}, 0.2, 6))
        .containsExactly(2, 2, 1, 1, 0, 0, 0, 0);
  }

  @Test
  void withReopened_placesStreamsOnTheFewest_asThePickerWould() {
    assertThat(RebalancePlan.withReopened(new int[] {8, 5, 7, 8}, 4)).containsExactly(8, 8, 8, 8);
    assertThat(RebalancePlan.withReopened(new int[] {8, 5, 7, 8}, 2)).containsExactly(8, 7, 7, 8);
    assertThat(RebalancePlan.withReopened(new int[] {3, 3}, 3)).containsExactly(5, 4);
    assertThat(RebalancePlan.withReopened(new int[] {4, 0}, 0)).containsExactly(4, 0);
  }

  @Test
  void jittered_drawsBetweenThePlanLessItsJitterShareAndThePlan_atLeastOne() {
    assertThat(RebalancePlan.jittered(16, 0.2, bound -> 0)).isEqualTo(16);
    assertThat(RebalancePlan.jittered(16, 0.2, bound -> bound - 1)).isEqualTo(13);
    assertThat(RebalancePlan.jittered(3, 0.5, bound -> bound - 1)).isEqualTo(2);
    assertThat(RebalancePlan.jittered(4, 0.2, bound -> bound - 1)).isEqualTo(4);
    assertThat(RebalancePlan.jittered(1, 1.0, bound -> bound - 1)).isEqualTo(1);
    assertThat(RebalancePlan.jittered(16, 0, bound -> bound - 1)).isEqualTo(16);
  }

  @Test
  void round_reopeningStreamsFillTheHole_noEnds() {
    // 8 8 8 8 8 8 8 5 with 3 re-opening: the hole fills itself.
    int[] counts = {8, 8, 8, 8, 8, 8, 8, 5};
    assertThat(RebalancePlan.round(counts, 3, 0.2, 16, 0, bound -> 0)).containsOnly(0);
  }

  @Test
  void config_absent_isOff_withDocumentedDefaults() {
    StreamRebalancingConfig config =
        StreamRebalancingConfig.parseFrom("kube_round_robin", Map.of());
    assertThat(config.enabled).isFalse();
    assertThat(config.toJson())
        .containsEntry("interval", "5s")
        .containsEntry("tolerance", 0.2)
        .containsEntry("maxSharePerInterval", 0.25)
        .containsEntry("terminationGrace", "30s")
        .containsEntry("drainShare", 0.5);
  }

  @Test
  void config_badShare_namesTheFieldAndTheRange() {
    assertThatThrownBy(
            () ->
                KubeRoundRobinConfig.parse(
                    Map.of("streamRebalancing", Map.of("maxSharePerInterval", 2.0))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(
            "kube_round_robin streamRebalancing config field 'maxSharePerInterval'")
        .hasMessageContaining("expected: a number in [0.001, 1.0]");
  }
}
