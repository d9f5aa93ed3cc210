package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.core.EndpointAttributes;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The field report's "critical port gotcha": {@code kubernetes:///svc.ns:80} with 80 the Service
 * port dials every pod on :80. The resolver says so where the user looks (the status of failed
 * RPCs, the log) and still dials: a pod may listen on a port its Service does not list.
 */
class PodPortTrapTest {
  @RegisterExtension final Cleanup cleanup = new Cleanup();

  /* A port nothing listens on (the Service port, which no pod serves). */
  private static int unusedPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private ManagedChannel channel(MockKubernetesApi api, String target) {
    return cleanup.channel(
        Grpc.newChannelBuilder(target, InsecureChannelCredentials.create())
            .setNameResolverArg(
                EndpointSliceOptions.KEY,
                EndpointSliceOptions.builder().client(api.client()).build())
            .build());
  }

  @Test
  void servicePortInTheTarget_failedRpcsNameThePodPorts() throws IOException {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    LoopbackPods pods = cleanup.add(LoopbackPods.start(2));
    api.apply(
        slice("my-svc-a", Map.of("grpc", pods.port()), ready(pods.get(0)), ready(pods.get(1))));
    int servicePort = unusedPort();
    ManagedChannel channel = channel(api, "kubernetes:///my-svc.my-ns:" + servicePort);

    channel.getState(true);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> !RpcLoad.run(channel, 1, 1, CallOptions.DEFAULT).failureSamples().isEmpty());
    Status status = RpcLoad.run(channel, 1, 1, CallOptions.DEFAULT).failureSamples().get(0);

    assertThat(status.getDescription())
        .contains(
            servicePort + " is not a port of the pods of my-ns/my-svc",
            "their ports: grpc=" + pods.port(),
            "give the port name or the pod port");
  }

  @Test
  void podPortTheServiceDoesNotList_noteOnTheResult_stillDialed_rpcsSucceed() {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    LoopbackPods pods = cleanup.add(LoopbackPods.start(2));
    api.apply(slice("my-svc-a", Map.of("grpc", 9090), ready(pods.get(0)), ready(pods.get(1))));
    try (ResolverHarness harness =
        new ResolverHarness("kubernetes:///my-svc.my-ns:" + pods.port(), api.client()).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> harness.endpointsInLastResult() == 2);
      assertThat(
              harness
                  .results
                  .get(harness.results.size() - 1)
                  .getAttributes()
                  .get(EndpointAttributes.RESOLUTION_NOTE))
          .contains(pods.port() + " is not a port of the pods of my-ns/my-svc");
      assertThat(harness.log.count("is not a port of the pods")).isZero(); // nothing failed yet
    }

    ManagedChannel channel = channel(api, "kubernetes:///my-svc.my-ns:" + pods.port());
    RpcLoad.Result result = RpcLoad.run(channel, 100, 2, CallOptions.DEFAULT);

    assertThat(result.failures()).as("%s", result).isZero();
  }
}
