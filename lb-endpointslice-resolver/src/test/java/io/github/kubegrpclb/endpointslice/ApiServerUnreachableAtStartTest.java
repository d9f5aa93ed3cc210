package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A channel made while the API server cannot be reached: fail-fast RPCs must fail within seconds
 * with a status that names the API server and the problem (fabric8 alone retries a refused connect
 * for about 20 s and leaves them buffered), wait-for-ready RPCs must wait, and the endpoints must
 * flow once the API server answers.
 */
class ApiServerUnreachableAtStartTest {
  /** The bound for the first fail-fast RPC, measured from the RPC's start. */
  private static final Duration FAIL_FAST_BOUND = Duration.ofSeconds(5);

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private LoopbackPods pods;

  @BeforeEach
  void start() {
    ResolverFixtures.checkNoWatchLeft(cleanup);
    pods = cleanup.add(LoopbackPods.start(2));
    warmUp();
  }

  /**
   * Loads fabric8's and grpc-java's classes in a first channel, so that the timings below measure
   * the resolver, not a cold JVM.
   */
  private void warmUp() {
    try (MockKubernetesApi api = new MockKubernetesApi()) {
      api.apply(slice("my-svc-a", Map.of("grpc", pods.port()), ready(pods.get(0))));
      ManagedChannel channel = channel(api.client());
      ChannelReadiness.awaitEveryPod(channel, List.of("pod-0"));
      channel.shutdownNow();
      await().atMost(Duration.ofSeconds(10)).until(() -> awaitTermination(channel));
    }
  }

  private static boolean awaitTermination(ManagedChannel channel) throws InterruptedException {
    return channel.awaitTermination(1, TimeUnit.SECONDS);
  }

  private ManagedChannel channel(KubernetesClient client) {
    return ResolverFixtures.channel(cleanup, client);
  }

  /** Makes one fail-fast RPC and returns how it failed, and after how long. */
  private static Failure failFastRpc(ManagedChannel channel) {
    long start = System.nanoTime();
    try {
      String pod =
          PodService.whoami(channel, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS));
      throw new AssertionError("the RPC succeeded on " + pod);
    } catch (StatusRuntimeException e) {
      return new Failure(e.getStatus(), Duration.ofNanos(System.nanoTime() - start));
    }
  }

  private record Failure(Status status, Duration after) {}

  @Test
  void nothingListening_failFastRpcFailsWithinSeconds_namingTheApiServer_thenEndpointsFlow() {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    api.apply(slice("my-svc-a", Map.of("grpc", pods.port()), ready(pods.get(0))));
    String url = api.client().getMasterUrl().toString();
    api.stop(); // the port is closed: connects are refused
    ManagedChannel channel = channel(api.client());

    Failure failure = failFastRpc(channel);

    System.out.printf("API server refusing connections: fail-fast RPC failed after %s%n", failure);
    assertThat(failure.after()).isLessThan(FAIL_FAST_BOUND);
    assertThat(failure.status().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(failure.status().getDescription()).contains(url, "my-ns/my-svc", "ConnectException");

    // Wait-for-ready on purpose: the scenario is that such an RPC waits out the outage.
    CompletableFuture<String> waiting =
        CompletableFuture.supplyAsync(
            () ->
                PodService.whoami(
                    channel,
                    CallOptions.DEFAULT
                        .withWaitForReady()
                        .withDeadlineAfter(60, TimeUnit.SECONDS)));
    await()
        .during(Duration.ofSeconds(1))
        .atMost(Duration.ofSeconds(5))
        .until(() -> !waiting.isDone());
    api.start();
    // The informer retries with a backoff of 1, 2, 4 s...: a few seconds at most here.
    assertThat(waiting).succeedsWithin(Duration.ofSeconds(30)).isEqualTo("pod-0");
    assertThat(RpcLoad.run(channel, 100, 1, CallOptions.DEFAULT).failures()).isZero();
  }

  @Test
  void apiServerNeverAnswers_failFastRpcFailsWithinSeconds_waitForReadyKeepsWaiting()
      throws IOException {
    // A listening socket nobody accepts from: connects complete in the kernel, requests hang.
    ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    cleanup.add(silent);
    String url = "http://127.0.0.1:" + silent.getLocalPort() + "/";
    Config config =
        new ConfigBuilder(Config.empty()).withMasterUrl(url).withNamespace("my-ns").build();
    KubernetesClient client = cleanup.add(new KubernetesClientBuilder().withConfig(config).build());
    ManagedChannel channel = channel(client);

    // Wait-for-ready on purpose: the scenario asserts that such an RPC keeps waiting.
    CompletableFuture<String> waiting =
        CompletableFuture.supplyAsync(
            () ->
                PodService.whoami(
                    channel,
                    CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(8, TimeUnit.SECONDS)));
    Failure failure = failFastRpc(channel);

    System.out.printf("API server silent: fail-fast RPC failed after %s%n", failure);
    assertThat(failure.after()).isLessThan(FAIL_FAST_BOUND);
    assertThat(failure.status().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(failure.status().getDescription())
        .contains("no answer from the Kubernetes API server at " + url, "my-ns/my-svc");
    assertThat(waiting).isNotDone();
  }
}
