package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.core.internal.PolicyCheck;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LogRecords;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link HeadlessDnsOptions.Builder#serviceConfig}: retries and the policy together. */
class HeadlessDnsRetriesWithPolicyTest {
  private static final Map<String, ?> RETRIES = ServiceConfigs.retries();

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private LoopbackPods pods;
  private String target;

  @BeforeEach
  void setUp() {
    TestDnsServer dns = cleanup.add(TestDnsServer.start());
    pods = cleanup.add(LoopbackPods.start(3));
    dns.setA("greeter.demo.svc.cluster.local", 5, "127.0.0.11", "127.0.0.12", "127.0.0.13");
    target = "headless://" + dns.authority() + "/greeter.demo.svc.cluster.local:" + pods.port();
  }

  @Test
  void serviceConfigOption_podsFailEveryThirdRpc_retriedAndSpreadOverEveryPod() {
    ManagedChannel channel =
        cleanup.channel(
            Grpc.newChannelBuilder(target, InsecureChannelCredentials.create())
                .setNameResolverArg(
                    HeadlessDnsOptions.KEY,
                    HeadlessDnsOptions.builder().serviceConfig(RETRIES).build())
                .build());
    ChannelReadiness.awaitEveryPod(channel, pods);
    for (LoopbackPod pod : pods.all()) {
      pod.resetCounters();
      pod.setFailurePercent(34); // calls 3, 6, 9 ... of each pod fail UNAVAILABLE
    }

    RpcLoad.Result result = RpcLoad.run(channel, 300, 1, CallOptions.DEFAULT);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod().values())
        .hasSize(3)
        .allSatisfy(n -> assertThat(n).isGreaterThan(50));
    assertThat(pods.all().stream().mapToLong(LoopbackPod::calls).sum()).isGreaterThan(360);
  }

  @Test
  void policyChannel_defaultServiceConfigWithOnlyRetries_warnsNamingTheFix() {
    try (LogRecords warnings = LogRecords.warnings(PolicyCheck.class)) {
      ManagedChannel channel =
          cleanup.channel(
              Grpc.newChannelBuilder(
                      target + "?policy=channel", InsecureChannelCredentials.create())
                  .defaultServiceConfig(RETRIES)
                  .build());
      ChannelReadiness.awaitReady(channel);

      assertThat(warnings.messages())
          .singleElement()
          .asString()
          .contains("HeadlessDnsOptions.builder().serviceConfig(config)");
    }
  }
}
