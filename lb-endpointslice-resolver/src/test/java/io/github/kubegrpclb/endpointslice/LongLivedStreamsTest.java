package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.terminating;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.core.StreamRebalancing;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.ReopeningStreams;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Long-lived streams follow the fleet (issue 23), end to end: loopback pods, the fabric8 mock API
 * server, 64 server streams that the client re-opens when they end with the move status. The
 * rebalancing interval is 1 s and slow start 2 s (the defaults are 5 s and 10 s) so that a run
 * covers many intervals in little wall time; the steady window after a scale-up is 60 intervals for
 * kube_round_robin (the 60 s) and 8 for peak_ewma.
 */
class LongLivedStreamsTest {
  private static final int STREAMS = 64;
  // 64 streams from 4 pods (16 each) over 8: the fewest moves for max/min <= 1.5 leave 9 on each
  // old pod and 7 on each new one, 28 moves (7 on the new pods, 6.4 at least, as 16 - m <= 1.5 m).
  private static final int FEWEST_MOVES = 28;

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  private static Map<String, ?> config(String grace) {
    return Map.of(
        "streamRebalancing",
        Map.of("enabled", true, "interval", "1s", "terminationGrace", grace),
        "slowStart",
        Map.of("window", "2s"));
  }

  private Channel channel(MockKubernetesApi api, String policy, Map<String, ?> config) {
    ManagedChannel channel =
        cleanup.channel(
            Grpc.newChannelBuilder(ResolverFixtures.TARGET, InsecureChannelCredentials.create())
                .setNameResolverArg(
                    EndpointSliceOptions.KEY,
                    EndpointSliceOptions.builder()
                        .client(api.client())
                        .policy(policy, config)
                        .build())
                .build());
    return ClientInterceptors.intercept(channel, StreamRebalancing.interceptor());
  }

  private static void publish(
      MockKubernetesApi api, LoopbackPods pods, MockKubernetesApi.Pod... p) {
    api.apply(slice("my-svc-a", Map.of("grpc", pods.port()), p));
  }

  private static MockKubernetesApi.Pod[] readyAll(List<LoopbackPod> pods) {
    return pods.stream().map(MockKubernetesApi.Pod::ready).toArray(MockKubernetesApi.Pod[]::new);
  }

  /** Max over min of the streams per pod, over {@code pods} (infinite when one has none). */
  static double spread(Map<String, Integer> perPod, Collection<String> pods) {
    int max = 0;
    int min = Integer.MAX_VALUE;
    for (String pod : pods) {
      int n = perPod.getOrDefault(pod, 0);
      max = Math.max(max, n);
      min = Math.min(min, n);
    }
    return min == 0 ? Double.POSITIVE_INFINITY : (double) max / min;
  }

  /**
   * Opens the streams once every pod in the slice serves (the application was running before): a
   * channel's first picker may have one endpoint connected, and every stream would start there.
   */
  private ReopeningStreams streams(Channel channel, int podsServing) {
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              Set<String> seen = new HashSet<>();
              for (int i = 0; i < 4 * podsServing; i++) {
                try {
                  seen.add(
                      PodService.whoami(
                          channel, CallOptions.DEFAULT.withDeadlineAfter(1, TimeUnit.SECONDS)));
                } catch (StatusRuntimeException e) {
                  return false; // still connecting
                }
              }
              return seen.size() == podsServing;
            });
    ReopeningStreams streams =
        cleanup.add(ReopeningStreams.start(channel, STREAMS, StreamRebalancing::isMove));
    await().atMost(Duration.ofSeconds(20)).until(() -> streams.established() == STREAMS);
    return streams;
  }

  /**
   * The bar watches a steady set for 60 s after the scale-up settles: kube_round_robin does
   * (60 intervals at 1 s); peak_ewma, whose rebalancer is the same code, watches 8 s to keep the
   * module's run short.
   */
  @ParameterizedTest
  @CsvSource({"kube_round_robin, 60", "peak_ewma, 8"})
  void scaleUp4To8_streamsSpreadWithin30s_fewMovesThenNoneWhileSteady(
      String policy, int steadySeconds) {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    LoopbackPods pods = cleanup.add(LoopbackPods.start(8));
    publish(api, pods, readyAll(pods.all().subList(0, 4)));
    ReopeningStreams streams = streams(channel(api, policy, config("30s")), 4);
    assertThat(streams.perPod()).hasSize(4).allSatisfy((pod, n) -> assertThat(n).isEqualTo(16));

    publish(api, pods, readyAll(pods.all()));
    streams.awaitSettled(
        () -> spread(streams.perPod(), pods.names()) <= 1.5,
        Duration.ofSeconds(3),
        Duration.ofSeconds(30));

    int moved = streams.moved();
    assertThat(moved).isBetween(FEWEST_MOVES, (int) (FEWEST_MOVES * 1.1));
    await()
        .during(Duration.ofSeconds(steadySeconds))
        .atMost(Duration.ofSeconds(steadySeconds + 5))
        .until(() -> streams.moved() == moved);
    assertThat(streams.cut()).as("cut streams: %s", streams.cuts()).isZero();
    assertThat(spread(streams.perPod(), pods.names())).isLessThanOrEqualTo(1.5);
  }

  @Test
  void rollingUpdate10sGrace_everyStreamMovedBeforeItsPodShutsDown_noneCut() {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    LoopbackPods pods = cleanup.add(LoopbackPods.start(8));
    List<LoopbackPod> old = pods.all().subList(0, 4);
    List<LoopbackPod> fresh = pods.all().subList(4, 8);
    publish(api, pods, readyAll(old));
    ReopeningStreams streams = streams(channel(api, "kube_round_robin", config("10s")), 4);

    // maxSurge 1: a new pod is ready, then an old one terminates (SIGTERM: the server stops
    // accepting, GOAWAY, and cuts what is left after the 10 s grace: LoopbackPod.drain()).
    List<CompletableFuture<Void>> shutdowns = new ArrayList<>();
    List<MockKubernetesApi.Pod> slice = new ArrayList<>(List.of(readyAll(old)));
    for (int i = 0; i < 4; i++) {
      slice.add(ready(fresh.get(i)));
      slice.set(i, terminating(old.get(i)));
      publish(api, pods, slice.toArray(MockKubernetesApi.Pod[]::new));
      shutdowns.add(CompletableFuture.runAsync(old.get(i)::drain));
      LoopbackPod leaving = old.get(i);
      await().atMost(Duration.ofSeconds(8)).until(() -> leaving.openWatches() == 0);
    }
    CompletableFuture.allOf(shutdowns.toArray(CompletableFuture[]::new)).join();
    api.apply(slice("my-svc-a", Map.of("grpc", pods.port()), readyAll(fresh)));

    await().atMost(Duration.ofSeconds(10)).until(() -> streams.established() == STREAMS);
    assertThat(streams.cut()).as("cut streams: %s", streams.cuts()).isZero();
    assertThat(streams.perPod().keySet())
        .containsExactlyInAnyOrderElementsOf(fresh.stream().map(LoopbackPod::name).toList());
    assertThat(spread(streams.perPod(), streams.perPod().keySet())).isLessThanOrEqualTo(1.5);
  }

  @Test
  void scaleDown8To4_streamsOfRemovedPodsSpreadEvenlyOverTheRest_noneCut() {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    LoopbackPods pods = cleanup.add(LoopbackPods.start(8));
    publish(api, pods, readyAll(pods.all()));
    ReopeningStreams streams = streams(channel(api, "kube_round_robin", config("10s")), 8);
    assertThat(streams.perPod()).hasSize(8).allSatisfy((pod, n) -> assertThat(n).isEqualTo(8));

    List<LoopbackPod> staying = pods.all().subList(0, 4);
    publish(api, pods, readyAll(staying));
    List<CompletableFuture<Void>> shutdowns = new ArrayList<>();
    for (LoopbackPod removed : pods.all().subList(4, 8)) {
      shutdowns.add(CompletableFuture.runAsync(removed::drain));
    }
    CompletableFuture.allOf(shutdowns.toArray(CompletableFuture[]::new)).join();

    await().atMost(Duration.ofSeconds(10)).until(() -> streams.established() == STREAMS);
    List<String> names = staying.stream().map(LoopbackPod::name).toList();
    assertThat(streams.perPod().keySet()).containsExactlyInAnyOrderElementsOf(names);
    assertThat(spread(streams.perPod(), names)).isLessThanOrEqualTo(1.5);
    assertThat(streams.cut()).as("cut streams: %s", streams.cuts()).isZero();
  }
}
