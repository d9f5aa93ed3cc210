package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * After an API server restart, client pods must not reconnect in lockstep. Each resolver here
 * stands for one client pod (its own KubernetesClient, its own watch) against fabric8's mock API
 * server in CRUD mode; the server records when each request arrives.
 */
class ReconnectHerdTest {
  /**
   * Client pods. With reconnect times drawn uniformly over a second, the chance that 12 of them
   * fall within 300 ms of each other is 12 * 0.3^11 - 11 * 0.3^12, about 1.5e-5.
   */
  private static final int CLIENTS = 12;

  private static final int ENDPOINTS = 10;

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private MockKubernetesApi api;

  @BeforeEach
  void start() {
    ResolverFixtures.checkNoWatchLeft(cleanup);
    api = cleanup.add(new MockKubernetesApi());
    List<MockKubernetesApi.Pod> pods = new ArrayList<>();
    for (int i = 0; i < ENDPOINTS; i++) {
      pods.add(ready("pod-" + i, "10.0.0." + (i + 1)));
    }
    api.apply(slice("my-svc-a", Map.of("grpc", 8080), pods.toArray(new MockKubernetesApi.Pod[0])));
  }

  @Test
  void apiServerRestart_clientsReconnectSpreadOverTheBackoff_notInLockstep() {
    List<ResolverHarness> clients = new ArrayList<>();
    for (int i = 0; i < CLIENTS; i++) {
      clients.add(
          cleanup.add(
              new ResolverHarness(ResolverFixtures.TARGET, api.clientInNamespace("my-ns"))
                  .start()));
    }
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> clients.stream().allMatch(c -> c.endpointsInLastResult() == ENDPOINTS));
    List<MockKubernetesApi.Request> atStart = api.requests();

    api.stop();
    api.start();

    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> watchesAfter(atStart.size()).size() >= CLIENTS);
    List<MockKubernetesApi.Request> restart =
        api.requests().subList(atStart.size(), api.requests().size());
    List<Long> firstWatches =
        watchesAfter(atStart.size()).stream()
            .limit(CLIENTS)
            .map(MockKubernetesApi.Request::nanoTime)
            .collect(Collectors.toList());
    long spreadMillis =
        (firstWatches.get(firstWatches.size() - 1) - firstWatches.get(0)) / 1_000_000;
    System.out.printf(
        "API server restart, %d client pods, %d endpoints: reconnects spread over %d ms;"
            + " per client pod at start %s, after the restart %s%n",
        CLIENTS, ENDPOINTS, spreadMillis, cost(atStart), cost(restart));

    assertThat(spreadMillis)
        .as("the first reconnect of %d client pods after the restart", CLIENTS)
        .isGreaterThan(300);
  }

  private List<MockKubernetesApi.Request> watchesAfter(int index) {
    List<MockKubernetesApi.Request> all = api.requests();
    return all.subList(index, all.size()).stream()
        .filter(MockKubernetesApi.Request::watch)
        .collect(Collectors.toList());
  }

  /** Requests and response bytes per client pod, lists and watches apart. */
  private static String cost(List<MockKubernetesApi.Request> requests) {
    List<MockKubernetesApi.Request> slices =
        requests.stream().filter(r -> r.path().contains("/endpointslices")).toList();
    long lists = slices.stream().filter(MockKubernetesApi.Request::sliceList).count();
    long watches = slices.stream().filter(MockKubernetesApi.Request::watch).count();
    long bytes = slices.stream().mapToLong(MockKubernetesApi.Request::responseBytes).sum();
    return String.format(
        "%.1f LIST + %.1f WATCH, %.0f response bytes",
        (double) lists / CLIENTS, (double) watches / CLIENTS, (double) bytes / CLIENTS);
  }
}
