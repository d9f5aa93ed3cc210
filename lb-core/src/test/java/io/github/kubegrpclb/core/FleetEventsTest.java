package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.fleet.Features;
import io.github.kubegrpclb.testing.fleet.FleetEvent;
import io.github.kubegrpclb.testing.fleet.FleetPolicy;
import io.github.kubegrpclb.testing.fleet.FleetReport;
import io.github.kubegrpclb.testing.fleet.FleetRun;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fleet-event harness (lb-testing's {@code fleet} package, docs/fleet-harness.md): both
 * policies, with each default-on feature on and off, through every fleet event, on a deterministic
 * simulation; each case checks the composition invariants in every simulated second. Cases listed
 * in {@code fleet/awaiting-fix.txt} fail on main until an issue-25 fix lands: they still run, and
 * are skipped with the violation seen while they fail.
 */
class FleetEventsTest {
  private static final long SEED = 1;
  private static final Map<String, String> AWAITING_FIX = awaitingFix();

  static Stream<Arguments> cases() {
    List<Arguments> cases = new ArrayList<>();
    for (String policy : List.of("kube_round_robin", "peak_ewma")) {
      for (FleetEvent event : FleetEvent.values()) {
        for (Features features : event.featureSets()) {
          cases.add(Arguments.of(policy, event, features));
        }
      }
    }
    return cases.stream();
  }

  private static FleetPolicy policy(String name) {
    return name.equals("peak_ewma") ? FleetPolicies.peakEwma() : FleetPolicies.kubeRoundRobin();
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("cases")
  void fleetEvent_keepsSharesFair_sickPodsOut_noBuffering(
      String policy, FleetEvent event, Features features) {
    FleetReport report = FleetRun.event(policy(policy), features, event, SEED);

    String awaiting = AWAITING_FIX.get(policy + " " + event + " " + features);
    if (awaiting != null) {
      Assumptions.assumeTrue(report.passed(), () -> awaiting + "\nnow: " + report.summary());
    }
    assertThat(report.passed()).as(report.summary()).isTrue();
  }

  @Test
  void sameSeed_sameViolations_otherSeed_otherRun() {
    FleetPolicy policy = FleetPolicies.kubeRoundRobin();

    String first =
        FleetRun.event(policy, Features.DEFAULTS, FleetEvent.POD_CRASH, 7).violations().toString();
    String again =
        FleetRun.event(policy, Features.DEFAULTS, FleetEvent.POD_CRASH, 7).violations().toString();

    assertThat(again).isEqualTo(first);
  }

  @Test
  void randomSequence_sameSeed_strikesTheSamePods_whateverThePolicy() {
    // FleetChaos judges a violated window against plain round robin's run of the same seed: a
    // clean verdict needs the seed, not the balancer's picks, to decide which pod an event strikes
    // (one shared random stream made seed 65's round robin run slow another pod than peak_ewma's).
    FleetReport ours = FleetRun.randomSequence(FleetPolicies.peakEwma(), Features.DEFAULTS, 65, 8);
    FleetReport plain =
        FleetRun.randomSequence(
            FleetPolicies.plainRoundRobin(FleetPolicies.peakEwma()), Features.ALL_OFF, 65, 8);

    assertThat(events(plain)).isEqualTo(events(ours)).contains("SLOW_POD@39:pod-");
  }

  private static String events(FleetReport report) {
    return report.run().substring(report.run().indexOf("events="));
  }

  @Test
  void randomSequence_partitionedPodWithoutDeadlines_noWindowWithEveryCallerStuck() {
    // FleetChaos seed 15 (no deadlines, a pod partitioned at 60 s): closed-loop callers each sent
    // one call to the black hole before anyone could notice it and waited for ever, with ejection
    // on or off; the checker blamed ejection. Callers without a deadline now call open-loop.
    FleetReport report =
        FleetRun.randomSequence(FleetPolicies.kubeRoundRobin(), Features.DEFAULTS, 15, 8);

    assertThat(report.passed()).as(report.summary()).isTrue();
  }

  @Test
  void randomSequence_clientBlip_podStillReconnectingWhenItsPeersAnswer_notLeftOut() {
    // FleetChaos seed 64 (CLIENT_BLIP at 36 s; seed 61 since the harness's random streams were
    // split): the silence rule ejected the pods whose reconnect backoff outlasted their peers' for
    // their lost connection's silence; one ejected once before stayed out 2 s and got none of
    // ~5,500 RPCs in the 50-51 s window once READY (seed 61: blips at 45 s and 48 s).
    FleetReport report =
        FleetRun.randomSequence(FleetPolicies.kubeRoundRobin(), Features.NO_SLOW_START, 61, 8);

    assertThat(report.passed()).as(report.summary()).isTrue();
  }

  @Test
  void randomSequence_twoClientBlips_peakEwma_noReconnectingPodLeftOut() {
    // FleetChaos seed 61 (CLIENT_BLIP at 45 s and 48 s; seed 178 since the harness's random
    // streams were split, blips at 52 s and 57 s): the same ejections after each blip; a pod
    // ejected after both was out 2 s and got no RPC in the 59-60 s window.
    FleetReport report =
        FleetRun.randomSequence(FleetPolicies.peakEwma(), Features.DEFAULTS, 178, 8);

    assertThat(report.passed()).as(report.summary()).isTrue();
  }

  @Test
  void randomSequence_surgeJoinsRollingUpdatesRampingPods_newestPodsDoNotTakeMost() {
    // FleetChaos seed 118 (ROLLING_UPDATE_ONE_BY_ONE at 17 s, ROLLING_UPDATE_SURGE_25 at 28 s): the
    // surge's pods found no settled peer, only the first update's pods still ramping, and joined at
    // full weight; in the 34-35 s window they took ~650 RPCs each, the pods warming since 17-26 s
    // 130-280 (pod-26: 13.3 %, floor 15.8 %; plain round robin 16.7 %).
    FleetReport report =
        FleetRun.randomSequence(FleetPolicies.kubeRoundRobin(), Features.DEFAULTS, 118, 8);

    assertThat(report.passed()).as(report.summary()).isTrue();
  }

  @Test
  void randomSequence_surgeSoonAfterClientBlip_newPodsRampAgainstThePodsThatCameBack() {
    // FleetChaos seed 177 (CLIENT_BLIP at 33 s, ROLLING_UPDATE_SURGE_25 at 38 s): every pod came
    // back unramped and counted as new for 10 s, so the surge's cold pods joined at full weight;
    // in the 43-44 s window pod-19 took 10.0 % where slow start gives it 50.3 % (floor 28.8 %).
    // The run's other violation is the slow pod first back after the blip (33-34 s, 15 of 1,177
    // RPCs; plain round robin 16 %): docs/fleet-harness.md, "sick" right after a blip.
    FleetReport report =
        FleetRun.randomSequence(FleetPolicies.kubeRoundRobin(), Features.DEFAULTS, 177, 8);

    assertThat(report.violations())
        .as(report.summary())
        .noneMatch(v -> v.invariant().equals("convergence"));
  }

  private static Map<String, String> awaitingFix() {
    Map<String, String> cases = new HashMap<>();
    try (InputStream in = FleetEventsTest.class.getResourceAsStream("/fleet/awaiting-fix.txt")) {
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        int bar = line.indexOf(" | ");
        if (!line.startsWith("#") && bar > 0) {
          cases.put(line.substring(0, bar).trim(), line.substring(bar + 3).trim());
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot read fleet/awaiting-fix.txt", e);
    }
    return cases;
  }
}
