package io.github.kubegrpclb.spring;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.core.internal.PolicyCheck;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LogRecords;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.TestMetrics;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Configuration;
import org.springframework.grpc.client.GrpcChannelFactory;

/**
 * Boots Spring gRPC with this auto-configuration against loopback pods listed by the mock
 * Kubernetes API: properties reach the resolver, Spring's retry and health settings survive next to
 * the policy, the actuator endpoint shows the balancers and metrics go to the application's
 * OpenTelemetry.
 */
class KubeGrpcLbAutoConfigurationTest {
  private static final String CHANNELS = "--spring.grpc.client.channels.";

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  @Configuration(proxyBeanMethods = false)
  @EnableAutoConfiguration
  static class Application {}

  @Test
  void springChannels_kubernetesTargets_retriesHealthPolicyEndpointAndMetrics() {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    LoopbackPods pods = cleanup.add(LoopbackPods.start(3));
    api.apply(
        slice(
            "my-svc-a",
            Map.of("grpc", pods.port()),
            ready(pods.get(0)),
            ready(pods.get(1)),
            ready(pods.get(2))));
    TestMetrics metrics = cleanup.add(new TestMetrics());
    String retries = CHANNELS + "greeter.service-config.methodConfig[0].";
    try (LogRecords warnings = LogRecords.warnings(PolicyCheck.class);
        ConfigurableApplicationContext context =
            new SpringApplicationBuilder(Application.class)
                .web(WebApplicationType.NONE)
                .initializers(
                    (ConfigurableApplicationContext c) -> {
                      c.getBeanFactory().registerSingleton("kubernetesClient", api.client());
                      c.getBeanFactory()
                          .registerSingleton("openTelemetry", metrics.openTelemetry());
                    })
                .run(
                    CHANNELS + "greeter.address=kubernetes:///my-svc.my-ns:grpc",
                    CHANNELS + "greeter.negotiation-type=plaintext",
                    retries + "name[0].service=" + PodService.SERVICE_NAME,
                    retries + "retryPolicy.maxAttempts=5",
                    retries + "retryPolicy.initialBackoff=0.01s",
                    retries + "retryPolicy.maxBackoff=0.1s",
                    retries + "retryPolicy.backoffMultiplier=2",
                    retries + "retryPolicy.retryableStatusCodes[0]=UNAVAILABLE",
                    CHANNELS + "greeter.health.enabled=true",
                    "--kube-grpc-lb.channels.greeter.policy=kube_round_robin",
                    // the same Service, its retries dropped as grpc-java would without us
                    CHANNELS + "lost.address=kubernetes://my-ns/my-svc:grpc",
                    CHANNELS + "lost.negotiation-type=plaintext",
                    "--kube-grpc-lb.channels.lost.keep-service-config=false",
                    "--kube-grpc-lb.channels.lost.policy=peak_ewma",
                    "--kube-grpc-lb.channels.lost.policy-config.choiceCount=3")) {
      GrpcChannelFactory channels = context.getBean(GrpcChannelFactory.class);
      ManagedChannel greeter = channels.createChannel("greeter");
      ManagedChannel lost = channels.createChannel("lost");
      ChannelReadiness.awaitEveryPod(greeter, pods);
      ChannelReadiness.awaitReady(lost);
      for (LoopbackPod pod : pods.all()) {
        pod.setFailurePercent(34); // calls 3, 6, 9 ... of each pod fail UNAVAILABLE
      }

      RpcLoad.Result kept = RpcLoad.run(greeter, 300, 1, CallOptions.DEFAULT);
      RpcLoad.Result dropped = RpcLoad.run(lost, 60, 1, CallOptions.DEFAULT);

      assertThat(kept.failures()).as("%s", kept).isZero();
      assertThat(kept.perPod().values())
          .as("%s", kept)
          .hasSize(3)
          .allSatisfy(n -> assertThat(n).isGreaterThan(50));
      assertThat(dropped.failures()).as("%s", dropped).isGreaterThan(5);
      KubeGrpcLbEndpoint endpoint = context.getBean(KubeGrpcLbEndpoint.class);
      assertThat(endpoint.channel("greeter"))
          .contains("kube_round_robin")
          .contains("kubernetes:///my-svc.my-ns:grpc");
      assertThat(endpoint.channel("lost")).contains("peak_ewma").doesNotContain("kube_round_robin");
      assertThat(endpoint.snapshot()).contains("kube_round_robin", "peak_ewma");
      assertThat(metrics.names()).anyMatch(name -> name.startsWith("kube_grpc_lb."));
      assertThat(warnings.messages()).isEmpty();
    }
  }
}
