package io.github.kubegrpclb.examples;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.examples.greeter.GreeterGrpc;
import io.github.kubegrpclb.examples.greeter.HelloRequest;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Smoke tests: every example client and the example server work end to end. */
class ExampleClientsTest {
  private final List<Server> pods = new ArrayList<>();

  @AfterEach
  void stopPods() throws InterruptedException {
    for (Server pod : pods) {
      pod.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** Starts {@code count} ExampleServers, pod-0 on 127.0.0.11, pod-1 on .12 ..., on one port. */
  private int startPods(int count) throws IOException {
    int port = 0;
    for (int i = 0; i < count; i++) {
      Server pod =
          ExampleServer.start(new InetSocketAddress("127.0.0." + (11 + i), port), "pod-" + i);
      pods.add(pod);
      port = pod.getPort();
    }
    return port;
  }

  @Test
  void headlessClient_spreadsOverEveryPod() throws Exception {
    int port = startPods(3);
    try (TestDnsServer dns = TestDnsServer.start()) {
      dns.setA("greeter.demo.svc.cluster.local", 5, "127.0.0.11", "127.0.0.12", "127.0.0.13");

      Map<String, Integer> perPod =
          ExampleClients.byTarget(
              "headless://" + dns.authority() + "/greeter.demo.svc.cluster.local:" + port, 300);

      assertThat(perPod).containsOnlyKeys("pod-0", "pod-1", "pod-2");
    }
  }

  @Test
  void endpointSliceClient_spreadsOverEveryReadyPod() throws Exception {
    int port = startPods(2);
    try (MockKubernetesApi api = new MockKubernetesApi()) {
      api.apply(
          MockKubernetesApi.slice(
              "my-svc-a",
              Map.of("grpc", port),
              ready("pod-0", "127.0.0.11"),
              ready("pod-1", "127.0.0.12")));

      Map<String, Integer> perPod =
          ExampleClients.endpointSlices("kubernetes:///my-svc.my-ns:grpc", api.client(), 200);

      assertThat(perPod).containsOnlyKeys("pod-0", "pod-1");
    }
  }

  @Test
  void shardedClient_worksAgainstOneAddress() throws Exception {
    int port = startPods(1);

    Map<String, Integer> perPod = ExampleClients.sharded("127.0.0.11:" + port, 100);

    assertThat(perPod).containsExactly(Map.entry("pod-0", 100));
  }

  @Test
  void exampleServer_answersWithItsPodName() throws Exception {
    Server server = ExampleServer.start(0, "greeter-7d4f9-abcde");
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "localhost", server.getPort(), InsecureChannelCredentials.create())
            .build();
    try {
      assertThat(
              GreeterGrpc.newBlockingStub(channel)
                  .sayHello(HelloRequest.getDefaultInstance())
                  .getPod())
          .isEqualTo("greeter-7d4f9-abcde");
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
