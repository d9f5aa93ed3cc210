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
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * After an API server restart, client pods must not retry in lockstep. Each resolver here stands
 * for one client pod's watch (a Service of its own, so that the server can tell them apart) against
 * fabric8's mock API server in CRUD mode. The restarted server answers 503 for a while, as a
 * starting API server does, then 410 Gone to each watch's first request (its watch cache starts
 * empty), and records every request with its time.
 */
class ReconnectHerdTest {
  private static final int CLIENTS = 12;
  private static final int ENDPOINTS = 10;

  /**
   * The attempt compared across clients: fabric8's second re-watch, 1 + 2 = 3 s after the drop
   * without jitter (the server answers the first with 503, the second with 410 Gone, and the relist
   * follows 1 s later). With each watch's base drawn from [0.5, 1.5) s it falls in [1.5, 4.5) s;
   * the chance that 12 such draws lie within 1 s of each other is 12 * (1/3)^11 - 11 * (1/3)^12,
   * about 5e-5, while without jitter they differ only by the machine's scheduling noise (0.2-0.6 s
   * at load 10-20 on 06630c3, the same at every attempt).
   */
  private static final int ATTEMPT = 2;

  private static final Pattern CLIENT = Pattern.compile("svc-(\\d+)");

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private MockKubernetesApi api;

  @BeforeEach
  void start() {
    ResolverFixtures.checkNoWatchLeft(cleanup);
    api = cleanup.add(new MockKubernetesApi());
    MockKubernetesApi.Pod[] pods = new MockKubernetesApi.Pod[ENDPOINTS];
    for (int i = 0; i < ENDPOINTS; i++) {
      pods[i] = ready("pod-" + i, "10.0.0." + (i + 1));
    }
    for (int client = 0; client < CLIENTS; client++) {
      api.apply(slice("svc-" + client, "svc-" + client + "-a", Map.of("grpc", 8080), pods));
    }
  }

  @Test
  void apiServerRestart_clientsRetryOnSpreadSchedules_notInLockstep() {
    List<ResolverHarness> clients = new ArrayList<>();
    for (int client = 0; client < CLIENTS; client++) {
      clients.add(
          cleanup.add(
              new ResolverHarness("kubernetes:///svc-" + client + ".my-ns:grpc", api.client())
                  .start()));
    }
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> clients.stream().allMatch(c -> c.endpointsInLastResult() == ENDPOINTS));
    int started = api.requests().size();

    long restart = System.nanoTime();
    api.unavailable(true);
    api.stop();
    api.start();
    await()
        .atMost(Duration.ofSeconds(40))
        .until(
            () ->
                perClient(since(started)).values().stream()
                        .filter(a -> a.size() >= ATTEMPT - 1)
                        .count()
                    == CLIENTS);
    long recovered = System.nanoTime();
    api.expireWatches(); // its watch cache lost: every client must list again
    api.unavailable(false);
    int outage = api.requests().size();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                perClient(since(outage)).values().stream().filter(this::relistedAndWatching).count()
                    == CLIENTS);
    Map<Integer, List<MockKubernetesApi.Request>> attempts = perClient(since(started));
    List<Long> times = new ArrayList<>();
    attempts.values().forEach(a -> times.add(a.get(ATTEMPT - 1).nanoTime()));
    long spreadMillis =
        (times.stream().mapToLong(t -> t).max().orElseThrow()
                - times.stream().mapToLong(t -> t).min().orElseThrow())
            / 1_000_000;
    List<Long> offsets = new ArrayList<>();
    times.stream().sorted().forEach(t -> offsets.add((t - restart) / 1_000_000));
    List<Long> relists = new ArrayList<>();
    perClient(since(outage))
        .values()
        .forEach(
            requests ->
                relists.add(
                    requests.stream()
                        .filter(MockKubernetesApi.Request::sliceList)
                        .findFirst()
                        .orElseThrow()
                        .nanoTime()));
    List<Long> relistOffsets = new ArrayList<>();
    relists.stream().sorted().forEach(t -> relistOffsets.add((t - restart) / 1_000_000));
    System.out.printf(
        "API server restart, %d client pods: attempt %d at %s ms after the restart (spread %d ms);"
            + " relists at %s ms; per client pod during the %.1f s outage %s; after it %s;"
            + " at start %s%n",
        CLIENTS,
        ATTEMPT,
        offsets,
        spreadMillis,
        relistOffsets,
        (recovered - restart) / 1e9,
        cost(api.requests().subList(started, outage)),
        cost(since(outage)),
        cost(api.requests().subList(0, started)));

    assertThat(attempts).hasSize(CLIENTS);
    assertThat(spreadMillis)
        .as("attempt %d of %d client pods, ms after the restart: %s", ATTEMPT, CLIENTS, offsets)
        .isGreaterThan(1000);
    assertThat(relistOffsets.get(CLIENTS - 1) - relistOffsets.get(0))
        .as("the relists of %d client pods after a 410, ms after the restart", CLIENTS)
        .isGreaterThan(1000);
  }

  private List<MockKubernetesApi.Request> since(int index) {
    List<MockKubernetesApi.Request> all = api.requests();
    return all.subList(index, all.size());
  }

  /** A LIST, then a watch that opened. */
  private boolean relistedAndWatching(List<MockKubernetesApi.Request> requests) {
    boolean listed = false;
    for (MockKubernetesApi.Request request : requests) {
      listed |= request.sliceList();
      if (listed && request.watch() && request.status() < 300) {
        return true;
      }
    }
    return false;
  }

  /** The requests for the EndpointSlices of each client's Service, by client. */
  private static Map<Integer, List<MockKubernetesApi.Request>> perClient(
      List<MockKubernetesApi.Request> requests) {
    Map<Integer, List<MockKubernetesApi.Request>> byClient = new TreeMap<>();
    for (MockKubernetesApi.Request request : requests) {
      Matcher client = CLIENT.matcher(request.path());
      if (request.path().contains("/endpointslices") && client.find()) {
        byClient
            .computeIfAbsent(Integer.parseInt(client.group(1)), c -> new ArrayList<>())
            .add(request);
      }
    }
    return byClient;
  }

  /** The resolvers' requests and response bytes per client pod, lists and watches apart. */
  private static String cost(List<MockKubernetesApi.Request> requests) {
    List<MockKubernetesApi.Request> slices =
        requests.stream()
            .filter(r -> "GET".equals(r.method()) && r.path().contains("/endpointslices"))
            .toList();
    long lists = slices.stream().filter(MockKubernetesApi.Request::sliceList).count();
    long watches = slices.stream().filter(MockKubernetesApi.Request::watch).count();
    long bytes = slices.stream().mapToLong(MockKubernetesApi.Request::responseBytes).sum();
    return String.format(
        "%.1f LIST + %.1f WATCH, %.0f response bytes",
        (double) lists / CLIENTS, (double) watches / CLIENTS, (double) bytes / CLIENTS);
  }
}
