package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A channel that enters idle mode releases its watch; when it leaves idle during an API server
 * outage (a managed-cluster upgrade), the endpoints must still be there. Mock API server in CRUD
 * mode, loopback pods, fail-fast RPCs.
 */
class IdleThroughApiOutageTest {
  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private MockKubernetesApi api;
  private LoopbackPods pods;

  @BeforeEach
  void start() {
    ResolverFixtures.checkNoWatchLeft(cleanup);
    api = cleanup.add(new MockKubernetesApi());
    pods = cleanup.add(LoopbackPods.start(2));
    api.apply(
        slice("my-svc-a", Map.of("grpc", pods.port()), ready(pods.get(0)), ready(pods.get(1))));
  }

  @Test
  void channelLeavesIdle_whileApiServerIsDown_rpcsUseTheKeptWatch() {
    ManagedChannel channel = ResolverFixtures.channel(cleanup, api.client());
    ChannelReadiness.awaitEveryPod(channel, List.of("pod-0", "pod-1"));

    channel.enterIdle();
    await().atMost(Duration.ofSeconds(10)).until(() -> ServiceWatches.SHARED.activeWatches() == 0);
    assertThat(channel.getState(false)).isEqualTo(ConnectivityState.IDLE);
    api.stop();

    RpcLoad.Result whileDown = RpcLoad.run(channel, 20, 1, CallOptions.DEFAULT);

    assertThat(whileDown.failures()).as("%s", whileDown).isZero();
    assertThat(whileDown.perPod()).containsOnlyKeys("pod-0", "pod-1");
  }
}
