package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.ReopeningStreams;
import io.github.kubegrpclb.testing.TestMetrics;
import io.grpc.Attributes;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What stream rebalancing shows, over a real channel and loopback pods: the open streams per
 * endpoint (gauge and snapshot line) and the streams ended by reason (counter).
 */
class StreamRebalancingTelemetryTest {
  private static final String OPEN = "kube_grpc_lb.endpoint.streams.open";
  private static final String ENDED = "kube_grpc_lb.streams.ended";

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private final TestMetrics metrics = cleanup.add(new TestMetrics());

  private static Map<String, String> endpoint(LoopbackPod pod) {
    return Map.of(
        "endpoint", pod.address().getAddress().getHostAddress() + ":" + pod.address().getPort());
  }

  @Test
  void scaleUp1To2_gaugeAndSnapshotShowOpenStreams_counterShowsScaleUpMoves() {
    LoopbackPods pods = cleanup.add(LoopbackPods.start(2));
    ManualNameResolverProvider resolver =
        new ManualNameResolverProvider(pods.addressGroups().subList(0, 1));
    Attributes telemetry =
        Attributes.newBuilder()
            .set(LbTelemetry.ATTRIBUTE, LbTelemetry.create(metrics.openTelemetry()))
            .build();
    resolver.update(pods.addressGroups().subList(0, 1), telemetry);
    Map<String, ?> config =
        Map.of(
            "streamRebalancing",
            Map.of("enabled", true, "interval", "0.5s"),
            "slowStart",
            Map.of("enabled", false));
    ManagedChannel managed =
        cleanup.channel(
            resolver
                .channelBuilder()
                .defaultServiceConfig(
                    Map.of("loadBalancingConfig", List.of(Map.of("kube_round_robin", config))))
                .build());
    Channel channel = ClientInterceptors.intercept(managed, StreamRebalancing.interceptor());
    ReopeningStreams streams =
        cleanup.add(ReopeningStreams.start(channel, 8, StreamRebalancing::isMove));
    await().atMost(Duration.ofSeconds(10)).until(() -> streams.established() == 8);
    assertThat(metrics.value(OPEN, endpoint(pods.get(0)))).isEqualTo(8);

    resolver.update(pods.addressGroups(), telemetry);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> streams.perPod().getOrDefault(pods.get(1).name(), 0) == 4);

    assertThat(streams.moved()).isEqualTo(4);
    assertThat(metrics.sum(ENDED, Map.of("reason", "scale_up"))).isEqualTo(4);
    assertThat(metrics.value(OPEN, endpoint(pods.get(1)))).isEqualTo(4);
    assertThat(LbDebug.snapshot("manual:///pods"))
        .contains(endpoint(pods.get(0)).get("endpoint"))
        .contains("streams=4");
  }
}
