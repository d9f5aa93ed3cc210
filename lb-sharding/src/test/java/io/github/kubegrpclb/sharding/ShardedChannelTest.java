package io.github.kubegrpclb.sharding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.core.LbDebug;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** ShardedChannel's lifecycle and API over a loopback pod (no iptables needed). */
class ShardedChannelTest {

  @Test
  void builder_badValues_errorsNameTheOption() {
    assertThatThrownBy(() -> ShardedChannel.newBuilder("x:1").connections(0))
        .hasMessageContaining("connections: 0");
    assertThatThrownBy(
            () -> ShardedChannel.newBuilder("x:1").maxConnectionAge(Duration.ofSeconds(-1)))
        .hasMessageContaining("maxConnectionAge");
  }

  @Test
  void build_binaryPodIdentityHeader_throwsNamingTheHeader() {
    assertThatThrownBy(
            () -> ShardedChannel.newBuilder("127.0.0.11:1").podIdentityHeader("x-pod-bin").build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("podIdentityHeader: 'x-pod-bin'")
        .hasMessageContaining("expected");
  }

  @Test
  void build_unparsableTarget_throwsNamingTheTarget_registersNothing() {
    String target = "my svc.my-ns:50051";
    assertThatThrownBy(() -> ShardedChannel.newBuilder(target).connections(2).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("target: '" + target + "'")
        .hasMessageContaining("expected: host:port");
    assertThat(LbDebug.snapshot(target)).isEmpty();
  }

  @Test
  void build_customizerThrows_throwsNamingTheCustomizer_registersNothing() {
    String target = "127.0.0.11:2";
    AtomicInteger calls = new AtomicInteger();
    assertThatThrownBy(
            () ->
                ShardedChannel.newBuilder(target)
                    .connections(3)
                    .channelBuilderCustomizer(
                        b -> {
                          if (calls.incrementAndGet() == 2) {
                            throw new IllegalStateException("no keepalive for you");
                          }
                        })
                    .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("channelBuilderCustomizer threw")
        .hasMessageContaining("no keepalive for you");
    assertThat(LbDebug.snapshot(target)).isEmpty();
  }

  @Test
  void build_dialFailsAfterSomeShards_shutsDownTheShardsDialedSoFar() {
    String target = "127.0.0.11:3";
    List<ManagedChannel> dialed = new ArrayList<>();
    assertThatThrownBy(
            () ->
                ShardedChannel.newBuilder(target)
                    .connections(4)
                    .dialer(
                        () -> {
                          if (dialed.size() == 3) {
                            throw new IllegalStateException("fourth dial fails");
                          }
                          ManagedChannel channel =
                              Grpc.newChannelBuilder(target, InsecureChannelCredentials.create())
                                  .build();
                          dialed.add(channel);
                          return channel;
                        })
                    .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("fourth dial fails");
    assertThat(dialed).hasSize(3).allMatch(ManagedChannel::isShutdown);
  }

  @Test
  void customizerAppliedToEveryShard_callsWork_shutdownCoversEveryShard() throws Exception {
    try (LoopbackPods pods = LoopbackPods.start(1)) {
      LoopbackPod pod = pods.get(0);
      AtomicInteger customized = new AtomicInteger();
      ShardedChannel channel =
          ShardedChannel.newBuilder("127.0.0.11:" + pod.address().getPort())
              .connections(5)
              .channelBuilderCustomizer(b -> customized.incrementAndGet())
              .podIdentityHeader(LoopbackPod.POD_HEADER.name())
              .build();

      ChannelReadiness.awaitEveryPod(channel, pods);

      RpcLoad.Result result = RpcLoad.run(channel, 200, 2, CallOptions.DEFAULT);

      assertThat(result.failures()).as("%s", result).isZero();

      assertThat(channel.connections()).isEqualTo(5);
      // Five shards, plus at most one re-dial each: every shard reached the same (only) pod.
      assertThat(customized.get()).isBetween(5, 10);
      assertThat(result.served(pod.name())).isEqualTo(200);
      assertThat(channel.getState(false)).isEqualTo(ConnectivityState.READY);
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> channel.shardIdentities().stream().allMatch(pod.name()::equals));

      channel.shutdown();
      assertThat(channel.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
      assertThat(channel.isTerminated()).isTrue();
      assertThat(channel.getState(false)).isEqualTo(ConnectivityState.SHUTDOWN);
    }
  }
}
