package io.github.kubegrpclb.sharding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.kubegrpclb.core.LbDebug;
import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The OpenTelemetry API is optional: run by the {@code without-opentelemetry} Surefire execution,
 * whose classpath has no {@code io.opentelemetry} artifact, it proves that a ShardedChannel serves,
 * snapshots and (not) records without it. Skipped elsewhere.
 */
@EnabledIfSystemProperty(named = "kubegrpclb.withoutOpenTelemetry", matches = "true")
class WithoutOpenTelemetryTest {
  @RegisterExtension final Cleanup cleanup = new Cleanup();

  @Test
  void classpath_hasNoOpenTelemetryApi() {
    assertThatThrownBy(() -> Class.forName("io.opentelemetry.api.OpenTelemetry"))
        .isInstanceOf(ClassNotFoundException.class);
  }

  @Test
  void shardedChannel_defaultAndGlobalTelemetry_servesAndSnapshots() {
    LoopbackPods pods = cleanup.add(LoopbackPods.start(1));
    LoopbackPod pod = pods.get(0);
    String target = "127.0.0.11:" + pod.address().getPort();
    ShardedChannel byDefault =
        cleanup.channel(
            ShardedChannel.newBuilder(target)
                .connections(2)
                .podIdentityHeader(LoopbackPod.POD_HEADER.name())
                .build());
    ShardedChannel global =
        cleanup.channel(
            ShardedChannel.newBuilder(target)
                .connections(2)
                .telemetry(LbTelemetry.global())
                .build());

    for (ShardedChannel channel : new ShardedChannel[] {byDefault, global}) {
      ChannelReadiness.awaitEveryPod(channel, pods);
      RpcLoad.Result result = RpcLoad.run(channel, 20, 1, CallOptions.DEFAULT);
      assertThat(result.served(pod.name())).as(result.toString()).isEqualTo(20);
    }
    assertThat(LbDebug.snapshot(target))
        .contains("sharded channel for " + target + ": READY, 2 shards")
        .contains("1 pod reached");
  }
}
