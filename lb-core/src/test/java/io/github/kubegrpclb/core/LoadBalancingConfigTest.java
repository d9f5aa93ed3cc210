package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import io.grpc.ManagedChannelBuilder;
import io.grpc.NameResolver.ConfigOrError;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LoadBalancingConfigTest {
  private final LoadBalancerProvider peakEwma =
      LoadBalancerRegistry.getDefaultRegistry().getProvider("peak_ewma");
  private final LoadBalancerProvider roundRobin =
      LoadBalancerRegistry.getDefaultRegistry().getProvider("kube_round_robin");

  @Test
  void registry_findsBothPoliciesThroughServiceLoader() {
    assertThat(peakEwma).isInstanceOf(PeakEwmaLoadBalancerProvider.class);
    assertThat(roundRobin).isInstanceOf(KubeRoundRobinLoadBalancerProvider.class);
  }

  @Test
  void peakEwma_emptyConfig_usesDefaults() {
    ConfigOrError parsed = peakEwma.parseLoadBalancingPolicyConfig(Map.of());

    assertThat(parsed.getConfig()).isEqualTo(PeakEwmaConfig.defaults());
    PeakEwmaConfig config = (PeakEwmaConfig) parsed.getConfig();
    assertThat(config.decayNanos()).isEqualTo(Duration.ofSeconds(10).toNanos());
    assertThat(config.defaultRttNanos()).isEqualTo(Duration.ofMillis(30).toNanos());
    assertThat(config.choiceCount()).isEqualTo(2);
  }

  @Test
  void peakEwma_allFields_parsed() {
    PeakEwmaConfig config =
        (PeakEwmaConfig)
            peakEwma
                .parseLoadBalancingPolicyConfig(
                    Map.of(
                        "decay", "2.5s",
                        "defaultRtt", "0.005s",
                        "failurePenalty", "3s",
                        "choiceCount", 3.0))
                .getConfig();

    assertThat(config.decayNanos()).isEqualTo(2_500_000_000L);
    assertThat(config.defaultRttNanos()).isEqualTo(5_000_000L);
    assertThat(config.failurePenaltyNanos()).isEqualTo(3_000_000_000L);
    assertThat(config.choiceCount()).isEqualTo(3);
  }

  @Test
  void peakEwma_builtConfig_roundTripsThroughServiceConfigJson() {
    PeakEwmaConfig built =
        PeakEwmaConfig.builder().decay(Duration.ofMillis(1500)).choiceCount(4).build();
    @SuppressWarnings("unchecked")
    Map<String, ?> options =
        ((List<Map<String, Map<String, ?>>>) built.toServiceConfig().get("loadBalancingConfig"))
            .get(0)
            .get("peak_ewma");

    assertThat(peakEwma.parseLoadBalancingPolicyConfig(options).getConfig()).isEqualTo(built);
  }

  @Test
  void peakEwma_negativeDecay_errorNamesTheField() {
    Status error = peakEwma.parseLoadBalancingPolicyConfig(Map.of("decay", "-1s")).getError();

    assertThat(error).isNotNull();
    assertThat(error.getDescription()).contains("'decay'", "-1s", "positive");
  }

  @Test
  void peakEwma_wrongFieldType_errorNamesTheFieldAndType() {
    Status error = peakEwma.parseLoadBalancingPolicyConfig(Map.of("choiceCount", "two")).getError();

    assertThat(error.getDescription()).contains("'choiceCount'", "\"two\"", "String", "integer");
  }

  @Test
  void peakEwma_durationAsNumber_errorShowsTheExpectedForm() {
    Status error = peakEwma.parseLoadBalancingPolicyConfig(Map.of("decay", 10.0)).getError();

    assertThat(error.getDescription()).contains("'decay'", "\"10s\"");
  }

  @Test
  void peakEwma_unknownField_errorListsKnownFields() {
    Status error = peakEwma.parseLoadBalancingPolicyConfig(Map.of("decayTime", "1s")).getError();

    assertThat(error.getDescription()).contains("'decayTime'", "decay", "defaultRtt");
  }

  @ParameterizedTest
  @CsvSource({
    "outlierEjection, interval",
    "outlierEjection, probeTimeout",
    "zoneSpill, interval",
  })
  void timerPeriods_belowTenMilliseconds_errorNamesTheFieldAndTheLowerBound(
      String section, String field) {
    for (LoadBalancerProvider provider : List.of(roundRobin, peakEwma)) {
      Status error =
          provider
              .parseLoadBalancingPolicyConfig(Map.of(section, Map.of(field, "0.000000001s")))
              .getError();

      assertThat(error).as(provider.getPolicyName()).isNotNull();
      assertThat(error.getDescription())
          .contains(section, "'" + field + "'", "0.000000001s", "at least \"0.01s\"");
      assertThat(
              provider
                  .parseLoadBalancingPolicyConfig(Map.of(section, Map.of(field, "0.01s")))
                  .getError())
          .isNull();
    }
  }

  @Test
  void kubeRoundRobin_unknownField_isAnError() {
    assertThat(roundRobin.parseLoadBalancingPolicyConfig(Map.of()).getError()).isNull();
    assertThat(roundRobin.parseLoadBalancingPolicyConfig(Map.of("x", 1.0)).getError()).isNotNull();
  }

  @Test
  void outlierEjection_defaults_onForBothPolicies() {
    KubeRoundRobinConfig rr =
        (KubeRoundRobinConfig) roundRobin.parseLoadBalancingPolicyConfig(Map.of()).getConfig();
    PeakEwmaConfig ewma =
        (PeakEwmaConfig) peakEwma.parseLoadBalancingPolicyConfig(Map.of()).getConfig();

    for (OutlierEjectionConfig config :
        List.of(rr.balancer.outlierEjection(), ewma.balancer().outlierEjection())) {
      assertThat(config.enabled).isTrue();
      assertThat(config.consecutiveFailures).isEqualTo(5);
      assertThat(config.baseEjectionNanos).isEqualTo(1_000_000_000L);
      assertThat(config.maxEjectionPercent).isEqualTo(50);
      assertThat(config.failureCodes)
          .containsExactlyInAnyOrder(
              Status.Code.UNAVAILABLE,
              Status.Code.DEADLINE_EXCEEDED,
              Status.Code.INTERNAL,
              Status.Code.UNKNOWN,
              Status.Code.DATA_LOSS,
              Status.Code.UNIMPLEMENTED);
      assertThat(config.ejectionNanos(3)).isEqualTo(3_000_000_000L);
      assertThat(config.ejectionNanos(1000)).isEqualTo(300_000_000_000L);
    }
    assertThat(ewma.isFailure(Status.Code.UNIMPLEMENTED)).isTrue();
    assertThat(ewma.isFailure(Status.Code.NOT_FOUND)).isFalse();
  }

  @Test
  void outlierEjection_sameParserForBothPolicies_fieldsAndErrors() {
    Map<String, ?> raw =
        Map.of(
            "outlierEjection",
            Map.of(
                "consecutiveFailures",
                3.0,
                "failureStatusCodes",
                List.of("UNAVAILABLE", 4.0),
                "maxEjectionPercent",
                20.0,
                "baseEjectionTime",
                "2s"));
    KubeRoundRobinConfig rr =
        (KubeRoundRobinConfig) roundRobin.parseLoadBalancingPolicyConfig(raw).getConfig();
    PeakEwmaConfig ewma = (PeakEwmaConfig) peakEwma.parseLoadBalancingPolicyConfig(raw).getConfig();

    assertThat(rr.balancer.outlierEjection()).isEqualTo(ewma.balancer().outlierEjection());
    assertThat(rr.balancer.outlierEjection().failureCodes)
        .containsExactlyInAnyOrder(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED);
    assertThat(rr.balancer.outlierEjection().maxEjected(10)).isEqualTo(2);
    assertThat(
            roundRobin
                .parseLoadBalancingPolicyConfig(
                    Map.of("outlierEjection", Map.of("failureStatusCodes", List.of("OK"))))
                .getError()
                .getDescription())
        .contains("kube_round_robin outlierEjection", "'failureStatusCodes'", "OK");
    assertThat(
            peakEwma
                .parseLoadBalancingPolicyConfig(Map.of("outlierEjection", Map.of("interva", "1s")))
                .getError()
                .getDescription())
        .contains("'interva'", "interval");
    assertThat(
            peakEwma
                .parseLoadBalancingPolicyConfig(
                    Map.of(
                        "outlierEjection",
                        Map.of("baseEjectionTime", "10s", "maxEjectionTime", "5s")))
                .getError()
                .getDescription())
        .contains("maxEjectionTime 5s is below baseEjectionTime 10s");
  }

  @Test
  void peakEwma_failureStatusCodes_roundTripThroughServiceConfigJson() {
    PeakEwmaConfig built =
        PeakEwmaConfig.builder()
            .failureStatusCodes(java.util.Set.of(Status.Code.UNAVAILABLE))
            .build();
    @SuppressWarnings("unchecked")
    Map<String, ?> options =
        ((List<Map<String, Map<String, ?>>>) built.toServiceConfig().get("loadBalancingConfig"))
            .get(0)
            .get("peak_ewma");

    PeakEwmaConfig parsed =
        (PeakEwmaConfig) peakEwma.parseLoadBalancingPolicyConfig(options).getConfig();
    assertThat(parsed).isEqualTo(built);
    assertThat(parsed.isFailure(Status.Code.UNIMPLEMENTED)).isFalse();
  }

  @Test
  void channel_malformedDefaultServiceConfig_failsAtBuildNamingTheField() {
    Map<String, ?> serviceConfig =
        Map.of("loadBalancingConfig", List.of(Map.of("peak_ewma", Map.of("decay", "-3s"))));
    ManagedChannelBuilder<?> builder =
        ManagedChannelBuilder.forTarget("dns:///localhost:1")
            .usePlaintext()
            .defaultServiceConfig(serviceConfig);

    assertThatThrownBy(builder::build).hasMessageContaining("'decay'");
  }
}
