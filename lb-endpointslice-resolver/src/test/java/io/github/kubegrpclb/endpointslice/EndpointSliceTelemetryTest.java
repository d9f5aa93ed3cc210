package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.github.kubegrpclb.core.LbDebug;
import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.TestMetrics;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The resolver instruments, read back through a real OpenTelemetry SDK, against the mock API. */
class EndpointSliceTelemetryTest {
  private static final String TARGET = "kubernetes:///my-svc.my-ns:grpc";
  private static final String ERRORS = "kube_grpc_lb.resolver.errors";
  private static final String UPDATES = "kube_grpc_lb.resolver.updates";
  private static final String LAG = "kube_grpc_lb.resolver.update.lag";

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private final TestMetrics metrics = cleanup.add(new TestMetrics());

  private ManagedChannel channel(KubernetesClient client) {
    return cleanup.channel(
        Grpc.newChannelBuilder(TARGET, InsecureChannelCredentials.create())
            .setNameResolverArg(
                EndpointSliceOptions.KEY,
                EndpointSliceOptions.builder()
                    .client(client)
                    .telemetry(LbTelemetry.create(metrics.openTelemetry()))
                    .build())
            .build());
  }

  @Test
  void forbidden_countsAsRbacError_andTheSnapshotNamesTheMissingRule() {
    KubernetesMockServer server = new KubernetesMockServer(false);
    server.init();
    cleanup.add(server::destroy);
    server
        .expect()
        .get()
        .withPath(
            "/apis/discovery.k8s.io/v1/namespaces/my-ns/endpointslices?labelSelector="
                + "kubernetes.io%2Fservice-name%3Dmy-svc&resourceVersion=0")
        .andReturn(
            403,
            new StatusBuilder().withCode(403).withReason("Forbidden").withMessage("no").build())
        .always();
    KubernetesClient client = cleanup.add(server.createClient());
    ManagedChannel channel = channel(client);

    channel.getState(true);

    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> metrics.sum(ERRORS, Map.of("error.type", "rbac", "target", TARGET)) >= 1);
    assertThat(metrics.sum(ERRORS, Map.of("error.type", "api_unreachable"))).isZero();
    assertThat(metrics.sum(UPDATES, Map.of())).isZero();
    assertThat(LbDebug.snapshot(TARGET))
        .contains("kubernetes resolver for " + TARGET + ": nothing published yet")
        .contains("last error (rbac,")
        .contains("get, list and watch");
  }

  @Test
  void sliceChange_recordsAnUpdateWithItsLag_andTheWatchIsUpToDate() {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    LoopbackPods pods = cleanup.add(LoopbackPods.start(2));
    Map<String, Integer> ports = Map.of("grpc", pods.port());
    api.apply(slice("my-svc-a", ports, ready(pods.get(0))));
    ManagedChannel channel = channel(api.client());
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0"));
    double updates = metrics.sum(UPDATES, Map.of("resolver", "kubernetes"));
    long lags = metrics.histogramCount(LAG, Map.of());

    api.apply(slice("my-svc-a", ports, ready(pods.get(0)), ready(pods.get(1))));

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> metrics.sum(UPDATES, Map.of("resolver", "kubernetes")) == updates + 1);
    assertThat(metrics.histogramCount(LAG, Map.of("target", TARGET))).isEqualTo(lags + 1);
    assertThat(metrics.histogramMax(LAG, Map.of())).isBetween(0.0, 5.0);
    assertThat(metrics.value("kube_grpc_lb.resolver.last_success.age", Map.of())).isZero();
    assertThat(metrics.sum(ERRORS, Map.of())).isZero();
    assertThat(LbDebug.snapshot(TARGET))
        .contains("kubernetes resolver for " + TARGET + ": 2 endpoints")
        .contains("up to date");
  }
}
