package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Item 5 of issue 10: creating the informer throws (a caller's client that is closed, or broken).
 * The failure must reach RPCs as a status, be retried on the channel's refresh, and the half-made
 * watch must be released when the channel shuts down.
 */
class InformerCreationFailureTest {
  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private MockKubernetesApi api;
  private LoopbackPods pods;

  @BeforeEach
  void start() {
    ResolverFixtures.checkNoWatchLeft(cleanup);
    api = cleanup.add(new MockKubernetesApi());
    pods = cleanup.add(LoopbackPods.start(2));
    api.apply(
        slice("my-svc-a", Map.of("grpc", pods.port()), ready(pods.get(0)), ready(pods.get(1))));
  }

  private ManagedChannel channel(KubernetesClient client) {
    return ResolverFixtures.channel(cleanup, client);
  }

  /** The mock API's client, throwing from every method while {@code broken} is set. */
  private KubernetesClient breakable(AtomicBoolean broken) {
    KubernetesClient real = api.client();
    return (KubernetesClient)
        Proxy.newProxyInstance(
            KubernetesClient.class.getClassLoader(),
            new Class<?>[] {KubernetesClient.class},
            (proxy, method, args) -> {
              if (method.getDeclaringClass() == Object.class) {
                return switch (method.getName()) {
                  case "equals" -> proxy == args[0];
                  case "hashCode" -> System.identityHashCode(proxy);
                  default -> "breakable " + real;
                };
              }
              if (broken.get()) {
                throw new IllegalStateException(
                    "client broken on purpose (" + method.getName() + ")");
              }
              try {
                return method.invoke(real, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }

  @Test
  void informerCreationThrows_rpcsFailWithTheError_retriedOnRefresh_releasedOnShutdown()
      throws InterruptedException {
    AtomicBoolean broken = new AtomicBoolean(true);
    ManagedChannel channel = channel(breakable(broken));

    Status status = RpcLoad.run(channel, 1, 1, CallOptions.DEFAULT).failureSamples().get(0);

    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(status.getDescription()).contains("my-ns/my-svc", "client broken on purpose");

    broken.set(false);
    // The channel refreshes the resolver after its backoff (about 1 s, then 1.6 s, ...).
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> RpcLoad.run(channel, 1, 1, CallOptions.DEFAULT).failures() == 0);
    assertThat(RpcLoad.run(channel, 100, 1, CallOptions.DEFAULT).perPod())
        .containsOnlyKeys("pod-0", "pod-1");

    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    assertThat(ServiceWatches.SHARED.activeWatches()).isZero();
  }

  @Test
  void clientClosedAlready_rpcsFailWithAStatus_watchReleasedOnShutdown()
      throws InterruptedException {
    KubernetesClient closed = cleanup.add(new MockKubernetesApi()).client();
    closed.close();
    ManagedChannel channel = channel(closed);

    Status status = RpcLoad.run(channel, 1, 1, CallOptions.DEFAULT).failureSamples().get(0);

    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(status.getDescription()).contains("my-ns/my-svc");
    System.out.println("closed client: " + status);

    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(ServiceWatches.SHARED.activeWatches()).isZero());
  }
}
