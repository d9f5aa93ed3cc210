package io.github.kubegrpclb.xds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.envoyproxy.envoy.config.cluster.v3.LoadBalancingPolicy;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Our policies selected by the control plane: {@code xds:///echo} through grpc-java's xDS client,
 * whose Cluster names {@code peak_ewma} or {@code kube_round_robin} as a gRFC A52 custom policy.
 * After a channel's first (wait-for-ready) RPC, every RPC is fail-fast.
 *
 * <p>peak_ewma reads the latency the client sees, scheduling delays included, and keeps a peak for
 * seconds (decay 10 s). On a loaded 2-core machine a fast pod's RPC now and then takes tens of
 * milliseconds, so it may cost as much as a pod 50 ms slower, and peak_ewma then rightly sends the
 * slow pod a share of calls, as it does when the slow pod's decayed estimate earns it a probe. So
 * the slow pod here is {@link #SLOW_POD_DELAY} slower, well above that noise, and the tests bound
 * its share of a window of calls after convergence, a quarter of round_robin's fifth, rather than
 * expect none.
 */
class CustomPolicyOverXdsTest {
  /** How much slower the slow pod answers: well above a loaded machine's scheduling delays. */
  private static final Duration SLOW_POD_DELAY = Duration.ofMillis(200);

  /** Most of a window of calls the slow pod may get under peak_ewma; round_robin gives it 0.2. */
  private static final double MAX_SLOW_SHARE = 0.05;

  private final XdsControlPlane controlPlane = XdsControlPlane.shared();

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  private LoopbackPods pods(int count) {
    return cleanup.add(LoopbackPods.start(count));
  }

  private ManagedChannel channel() {
    return cleanup.channel(EchoClients.newChannel());
  }

  private static List<String> names(LoopbackPods pods) {
    return pods.all().stream().map(LoopbackPod::name).toList();
  }

  @Test
  void peakEwma_onePodTurns200msSlower_getsUnder5PercentOf3000Rpcs_roundRobinGivesItAFifth() {
    LoopbackPods pods = pods(5);
    LoopbackPod slow = pods.get(0);
    controlPlane.serveEcho(
        EchoResources.cluster(EchoResources.customPolicy("peak_ewma", "{}")),
        EchoResources.endpoints(pods.all()));
    // A first channel loads and compiles the xDS stack: a cold first RPC that takes 100 ms
    // would mark its pod as slow for seconds (peak EWMA keeps peaks, decay 10 s).
    ManagedChannel coldChannel = channel();
    EchoClients.awaitFirstRpc(coldChannel);
    RpcLoad.run(coldChannel, 500, 2, CallOptions.DEFAULT);
    coldChannel.shutdownNow();
    pods.resetCounters();
    ManagedChannel ewmaChannel = channel();
    EchoClients.awaitFirstRpc(ewmaChannel);
    RpcLoad.Result warmUp = RpcLoad.run(ewmaChannel, 1000, 2, CallOptions.DEFAULT);
    assertThat(warmUp.failures()).as("%s", warmUp).isZero();
    // Every pod is in the rotation: a pod with no sample yet is probed first. (Its share of the
    // warm-up is not: one RPC stalled by the loaded machine may keep a pod avoided for seconds.)
    assertThat(pods.all()).allSatisfy(pod -> assertThat(pod.served()).as(pod.name()).isPositive());

    slow.setLatency(SLOW_POD_DELAY);
    // Converge: the slow pod's first slow answer raises its estimate.
    RpcLoad.run(ewmaChannel, 300, 1, CallOptions.DEFAULT);
    // One caller: the latency signal alone decides (the in-flight term is covered in lb-core), and
    // fewer threads keep this JVM's own CPU contention, which peak EWMA reads as latency, low.
    long start = System.nanoTime();
    RpcLoad.Result ewma = RpcLoad.run(ewmaChannel, 3_000, 1, CallOptions.DEFAULT);
    long ewmaMillis = (System.nanoTime() - start) / 1_000_000;
    ewmaChannel.shutdownNow();

    // Baseline in the same run: grpc-java's round_robin, as a control plane configures it by
    // default (four callers, so the slow pod's fifth of the calls takes seconds, not tens).
    controlPlane.serveEcho(
        EchoResources.cluster(EchoResources.roundRobin()), EchoResources.endpoints(pods.all()));
    ManagedChannel roundRobinChannel = channel();
    EchoClients.awaitFirstRpc(roundRobinChannel);
    RpcLoad.Result roundRobin = RpcLoad.run(roundRobinChannel, 300, 4, CallOptions.DEFAULT);

    System.out.printf(
        "slow pod share: peak_ewma %.4f of %d RPCs in %d ms (p99 %s), round_robin %.4f of %d"
            + " (p99 %s)%n",
        ewma.share(slow.name()),
        ewma.succeeded(),
        ewmaMillis,
        ewma.latencyPercentile(0.99),
        roundRobin.share(slow.name()),
        roundRobin.succeeded(),
        roundRobin.latencyPercentile(0.99));
    assertThat(ewma.failures()).as("%s", ewma).isZero();
    assertThat(ewma.share(slow.name())).as("peak_ewma %s", ewma).isLessThan(MAX_SLOW_SHARE);
    assertThat(roundRobin.failures()).as("%s", roundRobin).isZero();
    assertThat(roundRobin.share(slow.name())).as("round_robin %s", roundRobin).isGreaterThan(0.15);
  }

  @Test
  void kubeRoundRobin_10000Rpcs_everyPodServedWithin5Percent() {
    LoopbackPods pods = pods(5);
    controlPlane.serveEcho(
        EchoResources.cluster(EchoResources.customPolicy("kube_round_robin", "{}")),
        EchoResources.endpoints(pods.all()));
    ManagedChannel channel = channel();
    EchoClients.awaitFirstRpc(channel);
    pods.resetCounters();

    RpcLoad.Result result = RpcLoad.run(channel, 10_000, 4, CallOptions.DEFAULT);

    System.out.printf(
        "kube_round_robin max/min %.4f %s%n", result.maxMinRatio(names(pods)), result.perPod());
    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.maxMinRatio(names(pods))).as("%s", result).isLessThanOrEqualTo(1.05);
  }

  /**
   * Where the policy sits decides what it sees. At the top of the Cluster's policy list, one
   * peak_ewma instance balances over every endpoint of the priority, across localities. Under
   * {@code wrr_locality} (what Istio and grpc-java's legacy {@code lb_policy} conversion produce),
   * traffic is first split across localities by weight and one instance per locality sees only that
   * locality's pods, so a slow pod alone in its locality keeps its locality's share.
   */
  @Test
  void slowPodAloneInItsLocality_avoidedAtTopLevel_butKeepsItsLocalityShareUnderWrrLocality() {
    LoopbackPods pods = pods(5);
    LoopbackPod slow = pods.get(0);
    slow.setLatency(SLOW_POD_DELAY);
    Map<String, List<LoopbackPod>> zones =
        Map.of("zone-a", List.of(slow), "zone-b", pods.all().subList(1, 5));
    Map<String, Double> slowShare = new LinkedHashMap<>();
    Map<String, LoadBalancingPolicy.Policy> placements =
        Map.of(
            "top level",
            EchoResources.customPolicy("peak_ewma", "{}"),
            "under wrr_locality",
            EchoResources.wrrLocality(EchoResources.customPolicy("peak_ewma", "{}")));

    placements.forEach(
        (placement, policy) -> {
          controlPlane.serveEcho(EchoResources.cluster(policy), EchoResources.endpoints(zones));
          ManagedChannel channel = channel();
          EchoClients.awaitFirstRpc(channel);
          // Four callers: under wrr_locality half the calls wait SLOW_POD_DELAY.
          RpcLoad.Result result = RpcLoad.run(channel, 200, 4, CallOptions.DEFAULT);
          channel.shutdownNow();
          assertThat(result.failures()).as("%s %s", placement, result).isZero();
          slowShare.put(placement, result.share(slow.name()));
        });

    System.out.printf("slow pod alone in zone-a, share of RPCs: %s%n", slowShare);
    assertThat(slowShare.get("top level")).isLessThan(0.10);
    assertThat(slowShare.get("under wrr_locality")).isGreaterThan(0.30);
  }

  /**
   * Zone preference under xDS is the control plane's priorities, handled by grpc-java's priority
   * policy above ours: our policy balances within priority 0 and, once every pod there is gone, the
   * priority-1 instance takes over.
   */
  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void localityFailover_priority0Only_untilAllItsPodsStop_thenPriority1(String policy) {
    LoopbackPods pods = pods(4);
    List<LoopbackPod> zoneA = pods.all().subList(0, 2);
    List<LoopbackPod> zoneB = pods.all().subList(2, 4);
    controlPlane.serveEcho(
        EchoResources.cluster(EchoResources.customPolicy(policy, "{}")),
        EchoResources.endpointsWithFailover(zoneA, zoneB));
    ManagedChannel channel = channel();
    EchoClients.awaitFirstRpc(channel);

    RpcLoad.Result local = RpcLoad.run(channel, 1000, 2, CallOptions.DEFAULT);
    zoneA.forEach(LoopbackPod::stop);
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> assertThat(RpcLoad.run(channel, 1, 1, CallOptions.DEFAULT).failures()).isZero());
    RpcLoad.Result failedOver = RpcLoad.run(channel, 1000, 2, CallOptions.DEFAULT);

    assertThat(local.failures()).as("%s", local).isZero();
    // Only zone-a; peak_ewma may have avoided one of its two pods after a slow first RPC.
    assertThat(local.perPod().keySet()).as("%s", local).isSubsetOf("pod-0", "pod-1");
    assertThat(failedOver.failures()).as("%s", failedOver).isZero();
    // Only zone-b; likewise one RPC stalled by a loaded machine may keep one of its pods avoided.
    assertThat(failedOver.perPod().keySet()).as("%s", failedOver).isSubsetOf("pod-2", "pod-3");
  }

  /**
   * Rolling our policy out from the control plane: a live channel on round_robin gets a Cluster
   * naming peak_ewma under load; grpc-java switches gracefully (the new policy takes over once it
   * has a ready connection), no fail-fast RPC fails, and the slow pod stops getting its fifth.
   */
  @Test
  void clusterSwitchedFromRoundRobinToPeakEwma_underLoad_noRpcFails_andSlowPodIsAvoided() {
    LoopbackPods pods = pods(5);
    LoopbackPod slow = pods.get(0);
    slow.setLatency(SLOW_POD_DELAY);
    controlPlane.serveEcho(
        EchoResources.cluster(EchoResources.roundRobin()), EchoResources.endpoints(pods.all()));
    ManagedChannel channel = channel();
    EchoClients.awaitFirstRpc(channel);

    try (RpcLoad load = RpcLoad.start(channel, 2, CallOptions.DEFAULT)) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.snapshot().succeeded() > 200);
      assertThat(load.snapshot().share(slow.name())).as("%s", load.snapshot()).isGreaterThan(0.1);

      controlPlane.serveEcho(
          EchoResources.cluster(EchoResources.customPolicy("peak_ewma", "{}")),
          EchoResources.endpoints(pods.all()));
      awaitWindowWithShareBelow(load, slow, MAX_SLOW_SHARE, 500, Duration.ofSeconds(30));

      assertThat(load.snapshot().failures()).as("%s", load.snapshot()).isZero();
    }
  }

  /**
   * Waits until {@code pod} got less than {@code maxShare} of a window of {@code window} successful
   * calls, checking window after window for at most {@code timeout}; throws naming the last
   * window's share if that never happens. A share, not zero calls: peak_ewma rightly probes a slow
   * pod again once its estimate has decayed, or when a stall makes a fast pod look as slow.
   */
  private static void awaitWindowWithShareBelow(
      RpcLoad load, LoopbackPod pod, double maxShare, int window, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    String lastWindow = "none completed";
    while (System.nanoTime() < deadline) {
      RpcLoad.Result before = load.snapshot();
      Duration left = Duration.ofNanos(Math.max(deadline - System.nanoTime(), 1_000_000));
      try {
        await("" + window + " more calls")
            .atMost(left)
            .pollInterval(Duration.ofMillis(5))
            .until(() -> load.snapshot().succeeded() >= before.succeeded() + window);
      } catch (ConditionTimeoutException e) {
        break; // out of time mid-window: report the last complete one
      }
      RpcLoad.Result after = load.snapshot();
      long calls = after.succeeded() - before.succeeded();
      long toPod = after.served(pod.name()) - before.served(pod.name());
      if (toPod < maxShare * calls) {
        return;
      }
      lastWindow = toPod + " of " + calls;
    }
    throw new AssertionError(
        pod.name()
            + " still got "
            + maxShare
            + " or more of a window's calls after "
            + timeout
            + " (last window: "
            + lastWindow
            + "): "
            + load.snapshot());
  }
}
