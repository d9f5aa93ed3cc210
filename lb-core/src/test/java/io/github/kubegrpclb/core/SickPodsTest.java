package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Pods that are sick in ways other than slow, under load on a real channel over loopback pods with
 * fail-fast RPCs: hung, failing fast, holding a long stream, crashing.
 */
class SickPodsTest {
  private static final int CALLERS = 8;

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  private LoopbackPods pods(int count) {
    LoopbackPods pods = LoopbackPods.start(count);
    cleanup.add(pods);
    return pods;
  }

  private ManagedChannel channel(LoopbackPods pods, Map<String, ?> config) {
    ManagedChannel channel =
        new ManualNameResolverProvider(pods.addressGroups())
            .channelBuilder()
            .defaultServiceConfig(config)
            .build();
    cleanup.channel(channel);
    return channel;
  }

  private static long totalCalls(LoopbackPods pods) {
    return pods.all().stream().mapToLong(LoopbackPod::calls).sum();
  }

  /**
   * Runs load until {@code calls} more calls reached the pods; returns the share {@code pod} got.
   */
  private static double shareOfNextCalls(LoopbackPods pods, LoopbackPod pod, long calls) {
    long podBefore = pod.calls();
    long totalBefore = totalCalls(pods);
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(10))
        .until(() -> totalCalls(pods) >= totalBefore + calls);
    return (double) (pod.calls() - podBefore) / (totalCalls(pods) - totalBefore);
  }

  @Test
  void peakEwma_hungPod_rpcsWithoutDeadline_under1PercentOfNewRpcsAfter2s() {
    LoopbackPods pods = pods(4);
    LoopbackPod hung = pods.get(1);
    ManagedChannel channel = channel(pods, ServiceConfigs.policy("peak_ewma"));
    RpcLoad.run(channel, 2000, CALLERS, CallOptions.DEFAULT); // warm: every pod measured

    try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
      hung.setHung(true); // calls stay open (RpcLoad's 10 s deadline is beyond this test)
      long hungAt = System.nanoTime();
      await().atMost(Duration.ofSeconds(10)).until(() -> System.nanoTime() - hungAt > 2e9);

      double share = shareOfNextCalls(pods, hung, 10_000);

      assertThat(share)
          .as("share of new RPCs to the hung pod %s", load.snapshot())
          .isLessThan(0.01);
      hung.setHung(false);
    }
  }

  @Test
  void peakEwma_podAnsweringUnimplementedAtOnce_under1PercentOfRpcs() {
    LoopbackPods pods = pods(4);
    LoopbackPod skewed = pods.get(2);
    skewed.setFailWith(Status.Code.UNIMPLEMENTED, null);
    ManagedChannel channel = channel(pods, ServiceConfigs.policy("peak_ewma"));

    try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
      double share = shareOfNextCalls(pods, skewed, 20_000);

      assertThat(share).as("%s", load.snapshot()).isLessThan(0.01);
    }
  }

  @Test
  void kubeRoundRobin_podAnsweringUnimplemented_isEjected_under1PercentOfRpcs() {
    LoopbackPods pods = pods(4);
    LoopbackPod skewed = pods.get(2);
    skewed.setFailWith(Status.Code.UNIMPLEMENTED, null);
    ManagedChannel channel = channel(pods, ServiceConfigs.policy("kube_round_robin"));

    try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
      await().atMost(Duration.ofSeconds(30)).until(() -> skewed.calls() >= 5);
      double share = shareOfNextCalls(pods, skewed, 20_000);

      assertThat(share).as("%s", load.snapshot()).isLessThan(0.01);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void grpcOutlierDetection_wrapsOurPolicy_asItsChildPolicy(String policy) {
    LoopbackPods pods = pods(4);
    LoopbackPod failing = pods.get(0);
    failing.setFailWith(Status.Code.UNAVAILABLE, null);
    Map<String, ?> child = Map.of(policy, Map.of("outlierEjection", Map.of("enabled", false)));
    Map<String, ?> config =
        Map.of(
            "loadBalancingConfig",
            List.of(
                Map.of(
                    "outlier_detection_experimental",
                    Map.of(
                        "interval",
                        "0.5s",
                        "baseEjectionTime",
                        "30s",
                        "failurePercentageEjection",
                        Map.of(
                            "threshold", 50.0,
                            "enforcementPercentage", 100.0,
                            "minimumHosts", 3.0,
                            "requestVolume", 10.0),
                        "childPolicy",
                        List.of(child)))));
    ManagedChannel channel = channel(pods, config);

    try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.snapshot().succeeded() > 2000);
      // Ejected: a window of 500 calls in which the failing pod gets none (ejection lasts 30 s).
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> shareOfNextCalls(pods, failing, 500) == 0.0);
      double share = shareOfNextCalls(pods, failing, 5000);

      assertThat(share).as("%s", load.snapshot()).isLessThan(0.01);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void podCrash_failsAtMostTheRpcsInFlight_noneAfter300ms(String policy) {
    LoopbackPods pods = pods(4);
    LoopbackPod victim = pods.get(3);
    ManagedChannel channel = channel(pods, ServiceConfigs.policy(policy));

    try (RpcLoad load =
        RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT, Duration.ofSeconds(1))) {
      await().atMost(Duration.ofSeconds(30)).until(() -> victim.served() > 200);
      victim.stop(); // RST: in-flight calls fail at once
      long crashedAt = System.nanoTime();
      await().atMost(Duration.ofSeconds(5)).until(() -> System.nanoTime() - crashedAt > 300e6);
      long failuresAt300ms = load.snapshot().failures();
      long succeeded = load.snapshot().succeeded();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> load.snapshot().succeeded() > succeeded + 5000);

      assertThat(failuresAt300ms).as("%s", load.snapshot()).isLessThanOrEqualTo(CALLERS);
      assertThat(load.snapshot().failures()).as("%s", load.snapshot()).isEqualTo(failuresAt300ms);
    }
  }

  @Test
  void kubeRoundRobin_panicThreshold_fourOfFiveFailing_survivorGetsAThirdNotAll() {
    LoopbackPods pods = pods(5);
    ManagedChannel channel = channel(pods, ServiceConfigs.policy("kube_round_robin"));
    RpcLoad.run(channel, 500, CALLERS, CallOptions.DEFAULT);
    for (int i = 1; i < 5; i++) {
      pods.get(i).setFailWith(Status.Code.UNAVAILABLE, null);
    }

    try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.snapshot().failures() > 200);
      double share = shareOfNextCalls(pods, pods.get(0), 20_000);

      // At most floor(5 x 50 %) = 2 ejected: the survivor shares with the 2 others left (1/3);
      // without ejection it would get 1/5, with no limit all of it.
      assertThat(share).as("%s", load.snapshot()).isBetween(0.28, 0.40);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void coldPodJoiningUnderLoad_slowStart_under1PercentOfRpcsWhileCold(String policy) {
    LoopbackPods pods = pods(4);
    ManualNameResolverProvider resolver = new ManualNameResolverProvider(pods.addressGroups());
    ManagedChannel channel =
        resolver.channelBuilder().defaultServiceConfig(ServiceConfigs.policy(policy)).build();
    cleanup.channel(channel);

    try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.snapshot().succeeded() > 2000);
      load.reset();
      awaitFor(Duration.ofSeconds(3));
      RpcLoad.Result steady = load.snapshot();

      LoopbackPod cold = pods.add();
      cold.setColdStart(Duration.ofMillis(50), Duration.ofSeconds(3));
      resolver.update(pods.addressGroups());
      load.reset();
      awaitFor(Duration.ofSeconds(3));
      RpcLoad.Result join = load.snapshot();
      await().atMost(Duration.ofSeconds(60)).until(() -> cold.served() > 100); // it did join

      // The p99 of two 3 s windows differs by 1.5x from noise alone on a loaded 2-core machine,
      // so the assertion is the cause rather than the symptom: under 1 % of the join window's
      // RPCs went to the cold pod, so its slow calls cannot reach the p99. (Without slow start
      // kube_round_robin sent it 20 %, and the p99 rose 8-16x; see docs/policies.md.)
      Duration steadyP99 = steady.latencyPercentile(0.99);
      Duration joinP99 = join.latencyPercentile(0.99);
      assertThat(join.share(cold.name()))
          .as("join p99 %s vs steady p99 %s; join %s", joinP99, steadyP99, join)
          .isLessThan(0.01);
    }
  }

  private static double leastShareOfOthers(RpcLoad.Result result, String pod) {
    double least = 1;
    for (String other : result.perPod().keySet()) {
      if (!other.equals(pod)) {
        least = Math.min(least, result.share(other));
      }
    }
    return least;
  }

  private static void awaitFor(Duration duration) {
    long start = System.nanoTime();
    await()
        .atMost(duration.plusSeconds(5))
        .pollInterval(Duration.ofMillis(10))
        .until(() -> System.nanoTime() - start >= duration.toNanos());
  }

  @Test
  void peakEwma_10sClientStreamingCall_itsPodKeepsItsUnaryShare() throws Exception {
    LoopbackPods pods = pods(4);
    ManagedChannel channel = channel(pods, ServiceConfigs.policy("peak_ewma"));

    try (RpcLoad load = RpcLoad.start(channel, CALLERS, CallOptions.DEFAULT)) {
      await().atMost(Duration.ofSeconds(60)).until(() -> load.snapshot().succeeded() > 2000);
      load.reset();
      await().atMost(Duration.ofSeconds(60)).until(() -> load.snapshot().succeeded() > 20_000);
      RpcLoad.Result before = load.snapshot();

      CompletableFuture<String> upload = new CompletableFuture<>();
      ClientCall<String, String> call =
          channel.newCall(
              PodService.UPLOAD, CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS));
      call.start(
          new ClientCall.Listener<String>() {
            @Override
            public void onMessage(String pod) {
              upload.complete(pod);
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
              if (!status.isOk()) {
                upload.completeExceptionally(status.asRuntimeException());
              }
            }
          },
          new Metadata());
      call.request(1);
      load.reset();
      long opened = System.nanoTime();
      for (int i = 0; i < 10; i++) {
        call.sendMessage("chunk " + i);
        long until = opened + (i + 1) * 1_000_000_000L;
        await().atMost(Duration.ofSeconds(5)).until(() -> System.nanoTime() >= until);
      }
      RpcLoad.Result during = load.snapshot();
      call.halfClose();
      String streamPod = upload.get(10, TimeUnit.SECONDS);
      load.reset();
      await().atMost(Duration.ofSeconds(60)).until(() -> load.snapshot().succeeded() > 20_000);
      RpcLoad.Result after = load.snapshot();

      // Shares of equal pods under P2C wander a lot on a loaded machine (2.5x between two pods in
      // one 20,000-RPC window with no stream at all, seen here), so each window is read against
      // itself: the stream's pod must get at least half the share of the least-used other pod. A
      // stream sampled as latency shut its pod out entirely; one counted as load halved its share.
      assertThat(during.share(streamPod))
          .as("during the stream on %s; before %s; during %s", streamPod, before, during)
          .isGreaterThanOrEqualTo(0.5 * leastShareOfOthers(during, streamPod));
      assertThat(after.share(streamPod))
          .as("after the stream on %s; before %s; after %s", streamPod, before, after)
          .isGreaterThanOrEqualTo(0.5 * leastShareOfOthers(after, streamPod));
    }
  }
}
