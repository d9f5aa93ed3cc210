package io.github.kubegrpclb.spring;

import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.core.StreamRebalancing;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.ReopeningStreams;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Configuration;
import org.springframework.grpc.client.GrpcChannelFactory;

/**
 * {@code kube-grpc-lb.channels.<name>.stream-rebalancing.*}: the properties alone (no interceptor
 * or policy config written by the application) make a Spring gRPC channel's streams follow a
 * scale-up, against loopback pods listed by the mock Kubernetes API; bad values name the property.
 */
class StreamRebalancingPropertiesTest {
  private static final String CHANNEL = "--spring.grpc.client.channels.watch.";
  private static final String LB = "--kube-grpc-lb.channels.watch.";
  private static final int STREAMS = 16;

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  @Configuration(proxyBeanMethods = false)
  @EnableAutoConfiguration
  static class Application {}

  private ConfigurableApplicationContext boot(MockKubernetesApi api, String... properties) {
    return cleanup.add(
        new SpringApplicationBuilder(Application.class)
            .web(WebApplicationType.NONE)
            .initializers(
                (ConfigurableApplicationContext c) ->
                    c.getBeanFactory().registerSingleton("kubernetesClient", api.client()))
            .run(properties));
  }

  private static void publish(MockKubernetesApi api, LoopbackPods pods, List<LoopbackPod> in) {
    api.apply(
        slice(
            "my-svc-a",
            Map.of("grpc", pods.port()),
            in.stream().map(MockKubernetesApi.Pod::ready).toArray(MockKubernetesApi.Pod[]::new)));
  }

  @Test
  void streamRebalancingEnabled_channelGetsInterceptorAndOptions_streamsFollowAScaleUp() {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    LoopbackPods pods = cleanup.add(LoopbackPods.start(4));
    List<LoopbackPod> first = pods.all().subList(0, 2);
    publish(api, pods, first);
    ConfigurableApplicationContext context =
        boot(
            api,
            CHANNEL + "address=kubernetes:///my-svc.my-ns:grpc",
            CHANNEL + "negotiation-type=plaintext",
            LB + "stream-rebalancing.enabled=true",
            LB + "stream-rebalancing.interval=1s",
            LB + "stream-rebalancing.termination-grace=10s",
            LB + "policy-config.slowStart.enabled=false");
    ManagedChannel channel = context.getBean(GrpcChannelFactory.class).createChannel("watch");
    ChannelReadiness.awaitEveryPod(channel, first.stream().map(LoopbackPod::name).toList());
    ReopeningStreams streams =
        cleanup.add(ReopeningStreams.start(channel, STREAMS, StreamRebalancing::isMove));
    await().atMost(Duration.ofSeconds(20)).until(() -> streams.established() == STREAMS);
    assertThat(streams.perPod()).hasSize(2).allSatisfy((pod, n) -> assertThat(n).isEqualTo(8));

    publish(api, pods, pods.all());
    // 8 8 0 0 -> 4 4 4 4 (fair 4, band [4, 4] at tolerance 0.2): 8 moves, the fewest.
    streams.awaitSettled(
        () ->
            streams.perPod().size() == 4
                && streams.perPod().values().stream().allMatch(n -> n == 4),
        Duration.ofSeconds(3),
        Duration.ofSeconds(30));
    assertThat(streams.moved()).isEqualTo(8);
    assertThat(streams.cut()).as("cut streams: %s", streams.cuts()).isZero();
  }

  @Test
  void streamRebalancingBadValue_channelCreationFails_namingTheChannelAndTheField() {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    ConfigurableApplicationContext context =
        boot(
            api,
            CHANNEL + "address=kubernetes:///my-svc.my-ns:grpc",
            LB + "stream-rebalancing.enabled=true",
            LB + "stream-rebalancing.max-share-per-interval=2");
    GrpcChannelFactory channels = context.getBean(GrpcChannelFactory.class);

    assertThatThrownBy(() -> channels.createChannel("watch"))
        .hasMessageContaining("Spring gRPC channel 'watch'")
        .hasMessageContaining("streamRebalancing config field 'maxSharePerInterval'")
        .hasMessageContaining("expected: a number in [0.001, 1.0]");
  }

  @Test
  void streamRebalancingWithAnotherPolicyInTheAddress_channelCreationFails_namingTheFix() {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    ConfigurableApplicationContext context =
        boot(
            api,
            CHANNEL + "address=kubernetes:///my-svc.my-ns:grpc?policy=peak_ewma",
            LB + "stream-rebalancing.enabled=true");
    GrpcChannelFactory channels = context.getBean(GrpcChannelFactory.class);

    assertThatThrownBy(() -> channels.createChannel("watch"))
        .hasMessageContaining("?policy=peak_ewma in the address wins")
        .hasMessageContaining("set kube-grpc-lb.channels.<name>.policy instead");
  }
}
