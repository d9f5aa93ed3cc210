package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.kubegrpclb.core.internal.Telemetry;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The OpenTelemetry API is optional: run by the {@code without-opentelemetry} Surefire execution,
 * whose classpath has no {@code io.opentelemetry} artifact, it proves that both policies balance,
 * snapshot and (not) record without it. Skipped elsewhere (e.g. {@code -Dtest=} runs it in the
 * default execution too).
 */
@EnabledIfSystemProperty(named = "kubegrpclb.withoutOpenTelemetry", matches = "true")
class WithoutOpenTelemetryTest {
  @RegisterExtension final Cleanup cleanup = new Cleanup();

  @Test
  void classpath_hasNoOpenTelemetryApi() {
    assertThatThrownBy(() -> Class.forName("io.opentelemetry.api.OpenTelemetry"))
        .isInstanceOf(ClassNotFoundException.class);
  }

  @Test
  void telemetry_globalAndDisabled_recordNothing() {
    assertThat(Telemetry.of(LbTelemetry.global())).isSameAs(Telemetry.NOOP);
    assertThat(Telemetry.of(LbTelemetry.global().withEndpointLimit(5))).isSameAs(Telemetry.NOOP);
    assertThat(Telemetry.of(LbTelemetry.disabled())).isSameAs(Telemetry.NOOP);
    assertThat(Telemetry.of(null)).isSameAs(Telemetry.NOOP);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void policy_withGlobalTelemetry_balancesAndSnapshots(String policy) {
    LoopbackPods pods = cleanup.add(LoopbackPods.start(2));
    ManualNameResolverProvider resolver = new ManualNameResolverProvider(pods.addressGroups());
    resolver.update(
        pods.addressGroups(),
        Attributes.newBuilder().set(LbTelemetry.ATTRIBUTE, LbTelemetry.global()).build());
    ManagedChannel channel =
        cleanup.channel(
            resolver.channelBuilder().defaultServiceConfig(ServiceConfigs.policy(policy)).build());

    // Every pod answers through the policy: a policy that picked one pod only would time out here.
    ChannelReadiness.awaitEveryPod(channel, pods);

    RpcLoad.Result result = RpcLoad.run(channel, 50, 1, CallOptions.DEFAULT);

    // Not every pod again: peak_ewma keeps away from a pod whose first RPC was slow (a new
    // connection) until that peak decays.
    assertThat(result.failures()).as(result.toString()).isZero();
    assertThat(result.succeeded()).as(result.toString()).isEqualTo(50);
    assertThat(LbDebug.snapshot("manual:///pods"))
        .contains(policy + " balancer for manual:///pods");
  }
}
