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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Long-lived streams follow the fleet behind {@code headless:///} (issue 23): the DNS answer grows
 * from 4 to 8 pods under 64 server streams that the client re-opens when moved. Interval 1 s and
 * slow start 2 s keep the run short (see LongLivedStreamsTest of the EndpointSlice resolver).
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

  @Test
  void dnsAnswerGrows4To8_streamsSpreadWithin30s_fewMovesThenNoneWhileSteady() {
    LoopbackPods pods = cleanup.add(LoopbackPods.start(8));
    TestDnsServer dns = cleanup.add(TestDnsServer.start());
    dns.setA(HOST, 1, ips(pods.all().subList(0, 4)));
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
                                Map.of("enabled", true, "interval", "1s"),
                                "slowStart",
                                Map.of("window", "2s")))
                        .build())
                .build());
    Channel channel = ClientInterceptors.intercept(managed, StreamRebalancing.interceptor());
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              Set<String> seen = new HashSet<>();
              for (int i = 0; i < 16; i++) {
                try {
                  seen.add(
                      PodService.whoami(
                          channel, CallOptions.DEFAULT.withDeadlineAfter(1, TimeUnit.SECONDS)));
                } catch (StatusRuntimeException e) {
                  return false; // still connecting
                }
              }
              return seen.size() == 4;
            });
    ReopeningStreams streams =
        cleanup.add(ReopeningStreams.start(channel, STREAMS, StreamRebalancing::isMove));
    await().atMost(Duration.ofSeconds(20)).until(() -> streams.established() == STREAMS);
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
}
