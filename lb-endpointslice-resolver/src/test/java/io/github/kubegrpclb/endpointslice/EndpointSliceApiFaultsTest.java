package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ListMetaBuilder;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceList;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceListBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * API faults through the mock server's expectations mode: answers scripted per request path, in the
 * order the informer sends them (list, then watch from the list's resourceVersion).
 */
class EndpointSliceApiFaultsTest {
  private static final String BASE = "/apis/discovery.k8s.io/v1/namespaces/my-ns/endpointslices?";
  private static final String SELECTOR = "labelSelector=kubernetes.io%2Fservice-name%3Dmy-svc";
  private static final String LIST = BASE + SELECTOR + "&resourceVersion=0";
  private static final String RELIST = BASE + SELECTOR;

  private KubernetesMockServer server;
  private KubernetesClient client;
  private LoopbackPods pods;
  private ManagedChannel channel;

  @BeforeEach
  void start() {
    server = new KubernetesMockServer(false);
    server.init();
    client = server.createClient();
    pods = LoopbackPods.start(2);
  }

  @AfterEach
  void stop() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    client.close();
    server.destroy();
    pods.close();
    await().atMost(Duration.ofSeconds(5)).until(() -> ServiceWatches.SHARED.activeWatches() == 0);
  }

  private static String watchPath(String resourceVersion) {
    return BASE
        + "allowWatchBookmarks=true&"
        + SELECTOR
        + "&resourceVersion="
        + resourceVersion
        + "&timeoutSeconds=600&watch=true";
  }

  private ManagedChannel channel() {
    channel =
        Grpc.newChannelBuilder(
                "kubernetes:///my-svc.my-ns:grpc", InsecureChannelCredentials.create())
            .setNameResolverArg(
                EndpointSliceOptions.KEY, EndpointSliceOptions.builder().client(client).build())
            .build();
    return channel;
  }

  private static EndpointSliceList list(String resourceVersion, EndpointSlice... slices) {
    return new EndpointSliceListBuilder()
        .withMetadata(new ListMetaBuilder().withResourceVersion(resourceVersion).build())
        .withItems(slices)
        .build();
  }

  @Test
  void forbidden_rpcFailsNamingTheMissingRbacRule() {
    server
        .expect()
        .get()
        .withPath(LIST)
        .andReturn(
            403,
            new StatusBuilder()
                .withCode(403)
                .withReason("Forbidden")
                .withMessage(
                    "endpointslices.discovery.k8s.io is forbidden: User"
                        + " \"system:serviceaccount:my-ns:default\" cannot list resource")
                .build())
        .always();

    RpcLoad.Result result = RpcLoad.run(channel(), 1, 1, CallOptions.DEFAULT);

    Status status = result.failureSamples().get(0);
    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(status.getDescription())
        .contains("403", "get, list and watch", "endpointslices.discovery.k8s.io", "my-ns");
  }

  @Test
  void goneOnWatch_informerRelists_andNewEndpointsArrive() {
    Map<String, Integer> ports = Map.of("grpc", pods.port());
    server
        .expect()
        .get()
        .withPath(LIST)
        .andReturn(200, list("1", slice("my-svc-a", ports, ready(pods.get(0)))))
        .once();
    server
        .expect()
        .get()
        .withPath(watchPath("1"))
        .andReturn(410, new StatusBuilder().withCode(410).withReason("Gone").build())
        .once();
    server
        .expect()
        .get()
        .withPath(RELIST)
        .andReturn(200, list("2", slice("my-svc-a", ports, ready(pods.get(0)), ready(pods.get(1)))))
        .always();
    server.expect().get().withPath(watchPath("2")).andUpgradeToWebSocket().open().done().always();

    try (RpcLoad load = RpcLoad.start(channel(), 2, CallOptions.DEFAULT.withWaitForReady())) {
      await().atMost(Duration.ofSeconds(20)).until(() -> load.snapshot().served("pod-1") > 0);
      assertThat(load.snapshot().served("pod-0")).isPositive();
      assertThat(load.snapshot().failures()).isZero();
    }
  }
}
