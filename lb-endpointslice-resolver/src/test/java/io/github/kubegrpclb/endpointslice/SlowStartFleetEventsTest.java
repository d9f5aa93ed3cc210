package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MaxAgePods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * kube_round_robin's slow start under the fleet events of issue 25, as a new user meets them: the
 * mock API server in CRUD mode, real loopback pods, 8 closed-loop callers making fail-fast RPCs,
 * each pod's share read per 1 s window. Slow start must never do worse than plain round robin: a
 * ramp spreads the share a new pod does not take yet over all the others, and when every endpoint
 * is new or all come back together none ramps.
 */
class SlowStartFleetEventsTest {
  private static final CallOptions FAIL_FAST = CallOptions.DEFAULT;
  private static final int CALLERS = 8;
  private static final Duration WINDOW = Duration.ofSeconds(1);
  private static final int MIN_CALLS = 400;

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private MockKubernetesApi api;

  @BeforeEach
  void start() {
    ResolverFixtures.checkNoWatchLeft(cleanup);
    api = cleanup.add(new MockKubernetesApi());
  }

  private ManagedChannel channel(EndpointSliceOptions.Builder options) {
    return cleanup.channel(
        Grpc.newChannelBuilder(ResolverFixtures.TARGET, InsecureChannelCredentials.create())
            .setNameResolverArg(EndpointSliceOptions.KEY, options.client(api.client()).build())
            .build());
  }

  private static MockKubernetesApi.Pod[] ready(List<LoopbackPod> pods) {
    return pods.stream().map(MockKubernetesApi.Pod::ready).toArray(MockKubernetesApi.Pod[]::new);
  }

  private static List<String> names(List<LoopbackPod> pods) {
    return pods.stream().map(LoopbackPod::name).toList();
  }

  /**
   * What {@code load} did over the next {@code length} of wall-clock time (a measurement), or
   * longer, until {@link #MIN_CALLS} calls ended: a loaded 2-core machine can stall the callers for
   * a second, and a share of a handful of calls means nothing.
   */
  private static RpcLoad.Result window(RpcLoad load, Duration length) {
    load.reset();
    long end = System.nanoTime() + length.toNanos();
    await("the end of a " + length + " window of at least " + MIN_CALLS + " calls")
        .atMost(length.plusSeconds(20))
        .pollInterval(Duration.ofMillis(10))
        .until(
            () -> {
              RpcLoad.Result now = load.snapshot();
              return System.nanoTime() - end >= 0 && now.succeeded() + now.failures() >= MIN_CALLS;
            });
    return load.snapshot();
  }

  private static double busiestShare(RpcLoad.Result result, List<String> pods) {
    return pods.stream().mapToDouble(result::share).max().orElse(0);
  }

  @Test
  void scaleUpX2_oneSliceUpdate_noOldPodAbovePointFifteenInAnySecond() {
    LoopbackPods pods = cleanup.add(LoopbackPods.start(20));
    List<LoopbackPod> old = pods.all().subList(0, 10);
    List<LoopbackPod> added = pods.all().subList(10, 20);
    api.apply(slice("my-svc-a", Map.of("grpc", pods.port()), ready(old)));
    ManagedChannel channel = channel(EndpointSliceOptions.builder());
    ChannelReadiness.awaitEveryPod(channel, names(old));

    try (RpcLoad load = RpcLoad.start(channel, CALLERS, FAIL_FAST)) {
      window(load, WINDOW); // the callers are up to speed
      api.apply(slice("my-svc-a", Map.of("grpc", pods.port()), ready(pods.all())));
      List<String> shares = new ArrayList<>();
      RpcLoad.Result last = null;
      for (int second = 0; second < 5; second++) {
        last = window(load, WINDOW);
        double busiest = busiestShare(last, names(old));
        shares.add(String.format("%.3f", busiest));
        assertThat(last.failures()).as("failed RPCs: %s", last).isZero();
        assertThat(busiest)
            .as("busiest old pod's share per second after 10 -> 20 pods: %s; %s", shares, last)
            .isLessThanOrEqualTo(0.15);
      }
      System.out.println("scale-up x2: busiest old pod's share per second " + shares);
      RpcLoad.Result fifth = last;
      assertThat(names(added))
          .as("every new pod takes part in its ramp: %s", fifth)
          .allSatisfy(pod -> assertThat(fifth.served(pod)).isPositive());
    }
  }

  @Test
  void blueGreenSwap_everyEndpointNew_noneRamps_noPodAboveTwiceItsShare() {
    LoopbackPods pods = cleanup.add(LoopbackPods.start(8));
    List<LoopbackPod> blue = pods.all().subList(0, 4);
    List<LoopbackPod> green = pods.all().subList(4, 8);
    api.apply(slice("my-svc-a", Map.of("grpc", pods.port()), ready(blue)));
    ManagedChannel channel = channel(EndpointSliceOptions.builder());
    ChannelReadiness.awaitEveryPod(channel, names(blue));

    try (RpcLoad load = RpcLoad.start(channel, CALLERS, FAIL_FAST)) {
      api.apply(slice("my-svc-a", Map.of("grpc", pods.port()), ready(green)));
      await("every green pod serving")
          .atMost(ChannelReadiness.TIMEOUT)
          .until(() -> green.stream().allMatch(pod -> load.snapshot().served(pod.name()) > 0));
      for (int second = 0; second < 2; second++) {
        RpcLoad.Result result = window(load, WINDOW);
        System.out.printf(
            "blue/green: busiest green pod's share %.3f%n", busiestShare(result, names(green)));
        assertThat(busiestShare(result, names(green)))
            .as("busiest green pod's share (fair 0.25): %s", result)
            .isLessThanOrEqualTo(0.5);
      }
    }
  }

  @Test
  void clientSideBlip_everyConnectionDropsAndComesBack_noneRamps_noPodAboveTwiceItsShare() {
    LoopbackPods pods = cleanup.add(LoopbackPods.start(4));
    api.apply(slice("my-svc-a", Map.of("grpc", pods.port()), ready(pods.all())));
    ManagedChannel channel = channel(EndpointSliceOptions.builder());
    ChannelReadiness.awaitEveryPod(channel, pods.names());

    pods.all().forEach(LoopbackPod::stop); // every connection drops at once
    await("every endpoint failed")
        .atMost(ChannelReadiness.TIMEOUT)
        .until(() -> channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE);
    pods.all().forEach(LoopbackPod::restart); // and each comes back after its reconnect backoff
    ChannelReadiness.awaitEveryPod(channel, pods.names());

    try (RpcLoad load = RpcLoad.start(channel, CALLERS, FAIL_FAST)) {
      for (int second = 0; second < 2; second++) {
        RpcLoad.Result result = window(load, WINDOW);
        System.out.printf(
            "client blip: busiest pod's share %.3f%n", busiestShare(result, pods.names()));
        assertThat(result.failures()).as("failed RPCs: %s", result).isZero();
        assertThat(busiestShare(result, pods.names()))
            .as("busiest pod's share after all came back (fair 0.25): %s", result)
            .isLessThanOrEqualTo(0.5);
      }
    }
  }

  @Test
  void maxConnectionAge_afterRollingUpdate_reconnectIsNotANewPod_fairShare() {
    MaxAgePods pods =
        cleanup.add(MaxAgePods.start(5, Duration.ofMillis(700), Duration.ofSeconds(5)));
    MockKubernetesApi.Pod[] all =
        IntStream.range(0, 5)
            .mapToObj(
                i ->
                    MockKubernetesApi.Pod.ready(
                        pods.names().get(i), pods.addresses().get(i).getAddress().getHostAddress()))
            .toArray(MockKubernetesApi.Pod[]::new);
    api.apply(
        slice(
            "my-svc-a",
            Map.of("grpc", pods.port()),
            List.of(all).subList(0, 4).toArray(MockKubernetesApi.Pod[]::new)));
    ManagedChannel channel =
        channel(
            EndpointSliceOptions.builder()
                .policy("kube_round_robin", Map.of("slowStart", Map.of("window", "2s"))));
    ChannelReadiness.awaitEveryPod(channel, pods.names().subList(0, 4));
    String joined = pods.names().get(4);

    try (RpcLoad load = RpcLoad.start(channel, CALLERS, FAIL_FAST)) {
      api.apply(slice("my-svc-a", Map.of("grpc", pods.port()), all)); // the update's new pod
      await("the new pod serving")
          .atMost(ChannelReadiness.TIMEOUT)
          .until(() -> load.snapshot().served(joined) > 0);
      window(
          load, Duration.ofSeconds(3)); // its 2 s ramp is over; it reconnected since (700 ms age)

      for (int second = 0; second < 3; second++) {
        RpcLoad.Result result = window(load, WINDOW);
        System.out.printf("max-age reconnects: new pod's share %.3f%n", result.share(joined));
        assertThat(result.share(joined))
            .as("the new pod's share between max-age reconnects (fair 0.2): %s", result)
            .isGreaterThanOrEqualTo(0.14);
      }
    }
  }
}
