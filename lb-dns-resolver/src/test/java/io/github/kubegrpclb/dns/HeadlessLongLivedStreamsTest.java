package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.core.StreamRebalancing;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.ReopeningStreams;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Long-lived streams follow the fleet behind {@code headless:///} (issue 23): the DNS answer grows
 * from 4 to 8 pods under 64 server streams that the client re-opens when moved, and a terminating
 * pod's streams move off it once it leaves the answer, before its server cuts them. Interval 1 s
 * and slow start 2 s keep the run short (see LongLivedStreamsTest of the EndpointSlice resolver).
 */
class HeadlessLongLivedStreamsTest {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";
  private static final int STREAMS = 64;
  private static final int FEWEST_MOVES = 28; // 16 x 4 -> 9 x 4 + 7 x 4

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  private static String[] ips(List<LoopbackPod> pods) {
    return pods.stream()
        .map(pod -> pod.address().getAddress().getHostAddress())
        .toArray(String[]::new);
  }

  private static double spread(Map<String, Integer> perPod, List<String> pods) {
    int max = 0;
    int min = Integer.MAX_VALUE;
    for (String pod : pods) {
      int n = perPod.getOrDefault(pod, 0);
      max = Math.max(max, n);
      min = Math.min(min, n);
    }
    return min == 0 ? Double.POSITIVE_INFINITY : (double) max / min;
  }

  /** A headless:/// channel with stream rebalancing on, the interceptor installed. */
  private Channel channel(TestDnsServer dns, LoopbackPods pods, String terminationGrace) {
    ManagedChannel managed =
        cleanup.channel(
            Grpc.newChannelBuilder(
                    "headless://" + dns.authority() + "/" + HOST + ":" + pods.port(),
                    InsecureChannelCredentials.create())
                .setNameResolverArg(
                    HeadlessDnsOptions.KEY,
                    HeadlessDnsOptions.builder()
                        .policy(
                            "kube_round_robin",
                            Map.of(
                                "streamRebalancing",
                                Map.of(
                                    "enabled",
                                    true,
                                    "interval",
                                    "1s",
                                    "terminationGrace",
                                    terminationGrace),
                                "slowStart",
                                Map.of("window", "2s")))
                        .build())
                .build());
    return ClientInterceptors.intercept(managed, StreamRebalancing.interceptor());
  }

  /** Opens the streams once {@code serving} pods answer (the application was running before). */
  private ReopeningStreams streams(Channel channel, int serving) {
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              Set<String> seen = new HashSet<>();
              for (int i = 0; i < 4 * serving; i++) {
                try {
                  seen.add(
                      PodService.whoami(
                          channel, CallOptions.DEFAULT.withDeadlineAfter(1, TimeUnit.SECONDS)));
                } catch (StatusRuntimeException e) {
                  return false; // still connecting
                }
              }
              return seen.size() == serving;
            });
    ReopeningStreams streams =
        cleanup.add(ReopeningStreams.start(channel, STREAMS, StreamRebalancing::isMove));
    await().atMost(Duration.ofSeconds(20)).until(() -> streams.established() == STREAMS);
    return streams;
  }

  @Test
  void dnsAnswerGrows4To8_streamsSpreadWithin30s_fewMovesThenNoneWhileSteady() {
    LoopbackPods pods = cleanup.add(LoopbackPods.start(8));
    TestDnsServer dns = cleanup.add(TestDnsServer.start());
    dns.setA(HOST, 1, ips(pods.all().subList(0, 4)));
    ReopeningStreams streams = streams(channel(dns, pods, "30s"), 4);
    assertThat(streams.perPod()).hasSize(4).allSatisfy((pod, n) -> assertThat(n).isEqualTo(16));

    dns.setA(HOST, 1, ips(pods.all()));
    streams.awaitSettled(
        () -> spread(streams.perPod(), pods.names()) <= 1.5,
        Duration.ofSeconds(3),
        Duration.ofSeconds(30));

    int moved = streams.moved();
    assertThat(moved).isBetween(FEWEST_MOVES, (int) (FEWEST_MOVES * 1.1));
    await()
        .during(Duration.ofSeconds(8))
        .atMost(Duration.ofSeconds(12))
        .until(() -> streams.moved() == moved);
    assertThat(streams.cut()).as("cut streams: %s", streams.cuts()).isZero();
  }

  @Test
  void podLeavesTheDnsAnswer10sGrace_itsStreamsMovedBeforeItsServerCutsThem_spreadEvenly() {
    LoopbackPods pods = cleanup.add(LoopbackPods.start(4));
    TestDnsServer dns = cleanup.add(TestDnsServer.start());
    dns.setA(HOST, 1, ips(pods.all()));
    ReopeningStreams streams = streams(channel(dns, pods, "10s"), 4);
    assertThat(streams.perPod()).hasSize(4).allSatisfy((pod, n) -> assertThat(n).isEqualTo(16));

    // The pod terminates: it leaves the answer (not ready) as its server gets SIGTERM (stops
    // accepting, GOAWAY, cuts what is left after the 10 s grace: LoopbackPod.drain()).
    LoopbackPod leaving = pods.get(3);
    dns.setA(HOST, 1, ips(pods.all().subList(0, 3)));
    CompletableFuture<Void> shutdown = CompletableFuture.runAsync(leaving::drain);
    // Drained within drainShare (0.5) x 10 s after the resolver sees the answer, well before 10 s.
    await().atMost(Duration.ofSeconds(9)).until(() -> leaving.openWatches() == 0);
    shutdown.join();

    await().atMost(Duration.ofSeconds(10)).until(() -> streams.established() == STREAMS);
    List<String> staying = pods.names().subList(0, 3);
    assertThat(streams.perPod().keySet()).containsExactlyInAnyOrderElementsOf(staying);
    assertThat(spread(streams.perPod(), staying)).isLessThanOrEqualTo(1.5);
    assertThat(streams.moved()).isEqualTo(16);
    assertThat(streams.cut()).as("cut streams: %s", streams.cuts()).isZero();
  }
}
