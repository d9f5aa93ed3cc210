package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.RecordingPolicy;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A policy's config set in {@link EndpointSliceOptions} reaches the channel's balancer. */
class EndpointSlicePolicyConfigTest {
  @RegisterExtension final Cleanup cleanup = new Cleanup();

  @Test
  void policyWithConfig_configReachesTheBalancer() {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    LoopbackPods pods = cleanup.add(LoopbackPods.start(1));
    api.apply(slice("my-svc-a", Map.of("grpc", pods.port()), ready(pods.get(0))));
    try (RecordingPolicy policy = RecordingPolicy.register("recording_eps")) {
      ManagedChannel channel =
          cleanup.channel(
              Grpc.newChannelBuilder(
                      "kubernetes:///my-svc.my-ns:grpc", InsecureChannelCredentials.create())
                  .setNameResolverArg(
                      EndpointSliceOptions.KEY,
                      EndpointSliceOptions.builder()
                          .client(api.client())
                          .policy("recording_eps", Map.of("weight", 2.0))
                          .build())
                  .build());

      channel.getState(true); // leave idle: watch and hand the endpoints to the balancer
      await().atMost(Duration.ofSeconds(10)).until(() -> !policy.configs().isEmpty());

      assertThat(policy.configs().get(0)).isEqualTo(Map.of("weight", 2.0));
    }
  }

  @Test
  void policyWithConfig_nullValue_failsWhenSetNamingTheField() {
    Map<String, Object> config = new HashMap<>();
    config.put("slowStart", null);
    Map<String, Object> nested = new HashMap<>();
    nested.put("window", null);

    assertThatThrownBy(() -> EndpointSliceOptions.builder().policy("kube_round_robin", config))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("kube_round_robin config: 'slowStart' is null (expected: a value");
    assertThatThrownBy(
            () -> EndpointSliceOptions.builder().policy("peak_ewma", Map.of("slowStart", nested)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("peak_ewma config: 'slowStart.window' is null");
  }

  @Test
  void policyWithConfig_unknownField_failsWhenSetNamingTheField() {
    assertThatThrownBy(
            () -> EndpointSliceOptions.builder().policy("kube_round_robin", Map.of("weight", 2.0)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("kube_round_robin config: unknown field 'weight'");
  }
}
