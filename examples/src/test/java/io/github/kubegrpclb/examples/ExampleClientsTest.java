package io.github.kubegrpclb.examples;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Smoke tests: every example client and the example server work end to end. */
class ExampleClientsTest {

  @Test
  void headlessClient_spreadsOverEveryPod() throws Exception {
    try (TestDnsServer dns = TestDnsServer.start();
        LoopbackPods pods = LoopbackPods.start(3)) {
      dns.setA("greeter.demo.svc.cluster.local", 5, "127.0.0.11", "127.0.0.12", "127.0.0.13");

      Map<String, Integer> perPod =
          ExampleClients.byTarget(
              "headless://" + dns.authority() + "/greeter.demo.svc.cluster.local:" + pods.port(),
              300);

      assertThat(perPod).containsOnlyKeys("pod-0", "pod-1", "pod-2");
    }
  }

  @Test
  void endpointSliceClient_spreadsOverEveryReadyPod() throws Exception {
    try (MockKubernetesApi api = new MockKubernetesApi();
        LoopbackPods pods = LoopbackPods.start(2)) {
      api.apply(
          MockKubernetesApi.slice(
              "my-svc-a", Map.of("grpc", pods.port()), ready(pods.get(0)), ready(pods.get(1))));

      Map<String, Integer> perPod =
          ExampleClients.endpointSlices("kubernetes:///my-svc.my-ns:grpc", api.client(), 200);

      assertThat(perPod).containsOnlyKeys("pod-0", "pod-1");
    }
  }

  @Test
  void shardedClient_worksAgainstOneAddress() throws Exception {
    try (LoopbackPods pods = LoopbackPods.start(1)) {
      Map<String, Integer> perPod = ExampleClients.sharded("127.0.0.11:" + pods.port(), 100);

      assertThat(perPod).containsExactly(Map.entry("pod-0", 100));
    }
  }

  @Test
  void exampleServer_answersWithItsPodName() throws Exception {
    Server server = ExampleServer.start(0, "greeter-7d4f9-abcde");
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "localhost", server.getPort(), InsecureChannelCredentials.create())
            .build();
    try {
      assertThat(PodService.whoami(channel)).isEqualTo("greeter-7d4f9-abcde");
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
