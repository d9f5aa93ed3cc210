package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ListMetaBuilder;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.WatchEvent;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceList;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceListBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
  private final List<ManagedChannel> extraChannels = new ArrayList<>();

  @BeforeEach
  void start() {
    server = new KubernetesMockServer(false);
    server.init();
    client = server.createClient();
    pods = LoopbackPods.start(2);
  }

  @AfterEach
  void stop() throws InterruptedException {
    for (ManagedChannel extra : extraChannels) {
      extra.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
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
    channel = newChannel();
    return channel;
  }

  private ManagedChannel newChannel() {
    return Grpc.newChannelBuilder(
            "kubernetes:///my-svc.my-ns:grpc", InsecureChannelCredentials.create())
        .setNameResolverArg(
            EndpointSliceOptions.KEY, EndpointSliceOptions.builder().client(client).build())
        .build();
  }

  private ManagedChannel track(ManagedChannel extra) {
    extraChannels.add(extra);
    return extra;
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

    ManagedChannel channel = channel();

    // A loaded machine may take longer than the resolver's first-answer timeout to get the 403:
    // until then RPCs fail with "no answer from the API server".
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              Status status =
                  RpcLoad.run(channel, 1, 1, CallOptions.DEFAULT).failureSamples().get(0);
              assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
              assertThat(status.getDescription())
                  .contains(
                      "403", "get, list and watch", "endpointslices.discovery.k8s.io", "my-ns");
            });
  }

  /**
   * Item 3 of issue 10: after a relist that failed (here a 403 while RBAC was being changed) and
   * one that succeeded with the same slices, fabric8 emits no event, so the error stayed recorded
   * and a new resolver of the Service (a new channel, or one leaving idle mode) published
   * UNAVAILABLE before the endpoints: RPCs picked in between fail, and the channel starts its
   * resolution backoff. What the resolver publishes is checked directly; the channel's fail-fast
   * RPCs end to end.
   */
  @Test
  void errorThenRelistWithTheSameSlices_newChannelGetsTheEndpointsWithoutAnError() {
    Map<String, Integer> ports = Map.of("grpc", pods.port());
    scriptGoneThenRelistRefusedOnce(list("1", slice("my-svc-a", ports, ready(pods.get(0)))));
    ManagedChannel first = channel();
    ChannelReadiness.awaitEveryPod(first, List.of("pod-0"));
    assertThat(RpcLoad.run(first, 10, 1, CallOptions.DEFAULT).failures()).isZero();
    // The 410, the refused relist, and the relist that worked (the informer's backoff: 1 s, 2 s).
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> server.getRequestCount() >= 5); // list, watch, relist 403, relist, watch

    try (ResolverHarness resolver =
        new ResolverHarness("kubernetes:///my-svc.my-ns:grpc", client).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> resolver.endpointsInLastResult() == 1);
      assertThat(resolver.results)
          .as("every result the new resolver published")
          .allMatch(result -> result.getAddressesOrError().hasValue());
    }
    ManagedChannel second = track(newChannel());
    RpcLoad.Result result = RpcLoad.run(second, 100, 1, CallOptions.DEFAULT);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).containsOnlyKeys("pod-0");
  }

  /**
   * The same with a Service that has no endpoints: the error must be forgotten once the watch is
   * established again, or every new channel would report it in place of "no ready pod".
   */
  @Test
  void errorThenRelistWithNoSlices_newResolverGetsTheEmptySetOnceTheWatchIsBack() {
    scriptGoneThenRelistRefusedOnce(list("1"));
    try (ResolverHarness first =
        new ResolverHarness("kubernetes:///my-svc.my-ns:grpc", client).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> first.endpointsInLastResult() == 0);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> server.getRequestCount() >= 5); // list, watch, relist 403, relist, watch

      // The watch request was answered; the watch counts as established a moment later.
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                try (ResolverHarness second =
                    new ResolverHarness("kubernetes:///my-svc.my-ns:grpc", client).start()) {
                  await().atMost(Duration.ofSeconds(5)).until(() -> !second.results.isEmpty());
                  assertThat(second.results.get(0).getAddressesOrError().hasValue())
                      .as("first result of a new resolver: %s", second.results.get(0))
                      .isTrue();
                }
              });
    }
  }

  /**
   * A list (resourceVersion 1) of {@code slices}, a watch that ends with 410 Gone, a relist refused
   * with 403 once (RBAC being changed), then relists that return the same {@code slices} and a
   * watch that stays open.
   */
  private void scriptGoneThenRelistRefusedOnce(EndpointSliceList slices) {
    server.expect().get().withPath(LIST).andReturn(200, slices).once();
    server
        .expect()
        .get()
        .withPath(watchPath("1"))
        .andUpgradeToWebSocket()
        .open()
        .waitFor(300)
        .andEmit(
            new WatchEvent(
                new StatusBuilder().withCode(410).withReason("Gone").withMessage("too old").build(),
                "ERROR"))
        .done()
        .once();
    server
        .expect()
        .get()
        .withPath(RELIST)
        .andReturn(
            403,
            new StatusBuilder()
                .withCode(403)
                .withReason("Forbidden")
                .withMessage("endpointslices.discovery.k8s.io is forbidden")
                .build())
        .once();
    server.expect().get().withPath(RELIST).andReturn(200, slices).always();
    // A watch that stays open for the test (the mock closes a socket once it has sent what it was
    // given): a bookmark after 15 s.
    EndpointSlice bookmark =
        new EndpointSliceBuilder().withNewMetadata().withResourceVersion("1").endMetadata().build();
    server
        .expect()
        .get()
        .withPath(watchPath("1"))
        .andUpgradeToWebSocket()
        .open()
        .waitFor(15_000)
        .andEmit(new WatchEvent(bookmark, "BOOKMARK"))
        .done()
        .always();
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

    ManagedChannel channel = channel();
    ChannelReadiness.awaitReady(channel);
    try (RpcLoad load = RpcLoad.start(channel, 2, CallOptions.DEFAULT)) {
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> load.snapshot().served("pod-1") > 0 && load.snapshot().served("pod-0") > 0);
      assertThat(load.snapshot().failures()).isZero();
    }
  }
}
