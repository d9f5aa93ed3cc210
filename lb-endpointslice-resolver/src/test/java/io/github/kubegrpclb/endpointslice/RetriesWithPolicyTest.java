package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.kubegrpclb.core.internal.PolicyCheck;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LogRecords;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A channel keeps its method configs (retries) and this library's policy when the resolver options
 * carry them; the combinations that silently lose one of them log a warning naming the fix.
 */
class RetriesWithPolicyTest {
  private static final CallOptions FAIL_FAST = CallOptions.DEFAULT;

  private static final Map<String, ?> RETRIES = ServiceConfigs.retries();

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private MockKubernetesApi api;
  private LoopbackPods pods;

  @BeforeEach
  void setUp() {
    api = cleanup.add(new MockKubernetesApi());
    pods = cleanup.add(LoopbackPods.start(3));
    api.apply(
        slice(
            "my-svc-a",
            Map.of("grpc", pods.port()),
            ready(pods.get(0)),
            ready(pods.get(1)),
            ready(pods.get(2))));
  }

  @Test
  void serviceConfigOption_podsFailEveryThirdRpc_retriedAndSpreadOverEveryPod() {
    ManagedChannel channel =
        channel(
            "kubernetes:///my-svc.my-ns:grpc",
            EndpointSliceOptions.builder().client(api.client()).serviceConfig(RETRIES));
    ChannelReadiness.awaitEveryPod(channel, pods);
    failEveryThirdRpc();

    // One caller: a round robin over 3 pods that each fail their every 3rd call fails at most 3
    // picks in a row, so 5 attempts always succeed.
    RpcLoad.Result result = RpcLoad.run(channel, 300, 1, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).as("%s", result).containsOnlyKeys(pods.names());
    assertThat(result.perPod().values()).allSatisfy(n -> assertThat(n).isGreaterThan(50));
    long attempts = pods.all().stream().mapToLong(LoopbackPod::calls).sum();
    assertThat(attempts).as("attempts, retries included").isGreaterThan(300 + 60);
  }

  @Test
  void defaultServiceConfigWithRetries_withoutPolicyChannel_retriesAreLost() {
    // What the option fixes, and what no code can see: the resolver's config replaces the
    // channel's whole defaultServiceConfig.
    ManagedChannel channel =
        channel(
            "kubernetes:///my-svc.my-ns:grpc",
            EndpointSliceOptions.builder().client(api.client()),
            RETRIES);
    ChannelReadiness.awaitEveryPod(channel, pods);
    failEveryThirdRpc();

    RpcLoad.Result result = RpcLoad.run(channel, 300, 1, FAIL_FAST);

    assertThat(result.failures()).as("%s", result).isGreaterThan(50);
  }

  @Test
  void policyChannel_defaultServiceConfigWithOnlyRetries_warnsOnceNamingTheFix() {
    try (LogRecords warnings = LogRecords.warnings(PolicyCheck.class)) {
      ManagedChannel channel =
          channel(
              "kubernetes:///my-svc.my-ns:grpc?policy=channel",
              EndpointSliceOptions.builder().client(api.client()),
              RETRIES);
      ChannelReadiness.awaitReady(channel);
      RpcLoad.Result result = RpcLoad.run(channel, 30, 1, FAIL_FAST);

      assertThat(result.perPod()).as("grpc-java's pick_first").hasSize(1);
      assertThat(warnings.messages())
          .singleElement()
          .asString()
          .contains("kubernetes:///my-svc.my-ns:grpc?policy=channel")
          .contains("pick_first")
          .contains("EndpointSliceOptions.builder().serviceConfig(config)");
    }
  }

  @Test
  void disableServiceConfigLookUp_policyIgnored_warnsNamingTheFix() {
    try (LogRecords warnings = LogRecords.warnings(PolicyCheck.class)) {
      ManagedChannel channel =
          cleanup.channel(
              Grpc.newChannelBuilder(
                      "kubernetes:///my-svc.my-ns:grpc", InsecureChannelCredentials.create())
                  .setNameResolverArg(
                      EndpointSliceOptions.KEY,
                      EndpointSliceOptions.builder().client(api.client()).build())
                  .defaultServiceConfig(RETRIES)
                  .disableServiceConfigLookUp()
                  .build());
      ChannelReadiness.awaitReady(channel);

      assertThat(warnings.messages())
          .singleElement()
          .asString()
          .contains("did not use the policy its resolver returned (kube_round_robin)")
          .contains("disableServiceConfigLookUp()");
    }
  }

  @Test
  void policyChannel_defaultServiceConfigNamesOurPolicy_noWarning() {
    try (LogRecords warnings = LogRecords.warnings(PolicyCheck.class)) {
      ManagedChannel channel =
          channel(
              "kubernetes:///my-svc.my-ns:grpc?policy=channel",
              EndpointSliceOptions.builder().client(api.client()),
              ServiceConfigs.policyWithRetries("kube_round_robin"));
      ChannelReadiness.awaitEveryPod(channel, pods);

      assertThat(warnings.messages()).isEmpty();
    }
  }

  @Test
  void serviceConfigOption_withPolicyChannel_buildFailsNamingBoth() {
    assertThatThrownBy(
            () ->
                channel(
                    "kubernetes:///my-svc.my-ns:grpc?policy=channel",
                    EndpointSliceOptions.builder().client(api.client()).serviceConfig(RETRIES)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("EndpointSliceOptions.serviceConfig is set")
        .hasMessageContaining("policy=channel");
  }

  @Test
  void serviceConfigOption_invalidRetryPolicy_buildFailsNamingTheOption() {
    Map<String, ?> noCodes =
        Map.of(
            "methodConfig",
            List.of(
                Map.of(
                    "name",
                    List.of(Map.of()),
                    "retryPolicy",
                    Map.of(
                        "maxAttempts",
                        3,
                        "initialBackoff",
                        "0.01s",
                        "maxBackoff",
                        "0.1s",
                        "backoffMultiplier",
                        2))));
    assertThatThrownBy(
            () ->
                channel(
                    "kubernetes:///my-svc.my-ns:grpc",
                    EndpointSliceOptions.builder().client(api.client()).serviceConfig(noCodes)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("EndpointSliceOptions.serviceConfig")
        .hasMessageContaining("is not a valid service config");
  }

  @Test
  void serviceConfigOption_namesAPolicy_rejectedNamingTheFix() {
    assertThatThrownBy(
            () ->
                EndpointSliceOptions.builder()
                    .serviceConfig(ServiceConfigs.policyWithRetries("round_robin")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("\"loadBalancingConfig\"")
        .hasMessageContaining("?policy=");
  }

  private void failEveryThirdRpc() {
    for (LoopbackPod pod : pods.all()) {
      pod.resetCounters();
      pod.setFailurePercent(34); // calls 3, 6, 9 ... of each pod fail UNAVAILABLE
    }
  }

  private ManagedChannel channel(String target, EndpointSliceOptions.Builder options) {
    return channel(target, options, null);
  }

  private ManagedChannel channel(
      String target, EndpointSliceOptions.Builder options, Map<String, ?> defaultServiceConfig) {
    ManagedChannelBuilder<?> builder =
        Grpc.newChannelBuilder(target, InsecureChannelCredentials.create())
            .setNameResolverArg(EndpointSliceOptions.KEY, options.build());
    if (defaultServiceConfig != null) {
      builder.defaultServiceConfig(defaultServiceConfig);
    }
    return cleanup.channel(builder.build());
  }
}
