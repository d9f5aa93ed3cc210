package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.PacketDrop;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A network partition, for real: packets to one of four pods dropped by iptables inside this JVM's
 * private network namespace (lb-core's netns Surefire execution), 8 callers with 1 s deadlines,
 * fail-fast, grpc-java's defaults (retries on, no keepalive), each policy with its defaults.
 */
class PartitionNetnsTest {
  @RegisterExtension final Cleanup cleanup = new Cleanup();

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  @SuppressWarnings("try") // the drop is held for its scope
  void partitionedPod_failuresStopWithin5s_trafficBackWithin5sOfTheHeal(String policy)
      throws Exception {
    PacketDrop.require();
    LoopbackPods pods = LoopbackPods.start(4);
    cleanup.add(pods);
    LoopbackPod cut = pods.get(1);
    ManagedChannel channel =
        new ManualNameResolverProvider(pods.addressGroups())
            .channelBuilder()
            .defaultServiceConfig(ServiceConfigs.policy(policy))
            .build();
    cleanup.channel(channel);

    try (RpcLoad load = RpcLoad.start(channel, 8, CallOptions.DEFAULT, Duration.ofSeconds(1))) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.snapshot().served(cut.name()) > 100);
      long partitionedAt;
      long failuresAt5s;
      try (PacketDrop drop = PacketDrop.to(cut.address().getAddress())) {
        partitionedAt = System.nanoTime();
        assertThatThrownBy(
                () -> {
                  try (Socket socket = new Socket()) {
                    socket.connect(cut.address(), 300); // dropped, not refused: it hangs
                  }
                })
            .isInstanceOf(SocketTimeoutException.class);
        awaitSince(partitionedAt, Duration.ofSeconds(5));
        failuresAt5s = load.snapshot().failures();
        long servedAt5s = cut.served();
        awaitSince(partitionedAt, Duration.ofSeconds(11));

        assertThat(load.snapshot().failures())
            .as("failures after the first 5 s of the partition: %s", load.snapshot())
            .isEqualTo(failuresAt5s);
        assertThat(cut.served()).isEqualTo(servedAt5s);
      }
      long healedAt = System.nanoTime();
      long servedBefore = cut.served();
      await()
          .atMost(Duration.ofSeconds(5))
          .pollInterval(Duration.ofMillis(20))
          .until(() -> cut.served() > servedBefore);
      assertThat(Duration.ofNanos(System.nanoTime() - healedAt)).isLessThan(Duration.ofSeconds(5));
      assertThat(load.snapshot().failures())
          .as("failures in the first 5 s: %s", load.snapshot())
          .isGreaterThan(0)
          .isEqualTo(failuresAt5s);
    }
  }

  private static void awaitSince(long startNanos, Duration elapsed) {
    await()
        .atMost(elapsed.plusSeconds(5))
        .pollInterval(Duration.ofMillis(10))
        .until(() -> System.nanoTime() - startNanos >= elapsed.toNanos());
  }
}
