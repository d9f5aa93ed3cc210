package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.RecordingPolicy;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A policy's config set in {@link HeadlessDnsOptions} reaches the channel's balancer. */
class HeadlessDnsPolicyConfigTest {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  private Object firstConfigOf(RecordingPolicy policy, String query, HeadlessDnsOptions options) {
    TestDnsServer dns = cleanup.add(TestDnsServer.start());
    dns.setA(HOST, 30, "127.0.0.11");
    ManagedChannel channel =
        cleanup.channel(
            Grpc.newChannelBuilder(
                    "headless://" + dns.authority() + "/" + HOST + ":50051" + query,
                    InsecureChannelCredentials.create())
                .setNameResolverArg(HeadlessDnsOptions.KEY, options)
                .build());
    channel.getState(true); // leave idle: resolve and hand the result to the balancer
    await().atMost(Duration.ofSeconds(10)).until(() -> !policy.configs().isEmpty());
    return policy.configs().get(0);
  }

  @Test
  void policyWithConfig_configReachesTheBalancer() {
    try (RecordingPolicy policy = RecordingPolicy.register("recording_dns_a")) {
      Object config =
          firstConfigOf(
              policy,
              "",
              HeadlessDnsOptions.builder()
                  .policy("recording_dns_a", Map.of("weight", 2.0, "mode", "x"))
                  .build());

      assertThat(config).isEqualTo(Map.of("weight", 2.0, "mode", "x"));
    }
  }

  @Test
  void policyWithConfig_targetNamesAnotherPolicy_thatPolicyGetsItsDefaults() {
    try (RecordingPolicy policy = RecordingPolicy.register("recording_dns_b")) {
      Object config =
          firstConfigOf(
              policy,
              "?policy=recording_dns_b",
              HeadlessDnsOptions.builder().policy("peak_ewma", Map.of("decay", "5s")).build());

      assertThat(config).isEqualTo(Map.of());
    }
  }

  @Test
  void policyWithConfig_invalidField_failsWhenSetNamingTheField() {
    assertThatThrownBy(
            () -> HeadlessDnsOptions.builder().policy("peak_ewma", Map.of("decay", "-1s")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("peak_ewma config field 'decay'")
        .hasMessageContaining("expected: a positive duration");
  }

  @Test
  void policyWithConfig_peakEwmaOptionsAsDocumented_accepted() {
    HeadlessDnsOptions options =
        HeadlessDnsOptions.builder()
            .policy("peak_ewma", Map.of("decay", "5s", "choiceCount", 3))
            .build();

    assertThat(options.policy()).isEqualTo("peak_ewma");
    assertThat(options.policyConfig()).isEqualTo(Map.of("decay", "5s", "choiceCount", 3));
  }
}
