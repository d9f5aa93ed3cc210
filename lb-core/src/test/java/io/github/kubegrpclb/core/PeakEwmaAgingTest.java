package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.READY;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.ClientStreamTracer;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * peak_ewma's estimates age toward the fleet, and a candidate that cannot win a draw gives up its
 * slot: on a fake clock, with one sequential caller (nothing in flight at any pick, so the latency
 * estimates alone decide). Outlier ejection is off so that the cost alone is tested.
 */
class PeakEwmaAgingTest {
  private static final Map<String, ?> NO_EJECTION =
      Map.of("outlierEjection", Map.of("enabled", false));

  private final FakeHelper helper = new FakeHelper();
  private final FakeClock clock = helper.clock();
  private final Random random = new Random(11);
  private final EndpointSetLoadBalancer<PeakEwmaLoad> balancer =
      PeakEwmaPolicy.balancer(helper, clock.ticker(), random::nextInt, (sc, t, cb) -> {});

  @AfterEach
  void noErrorsInSyncContext() {
    helper.checkNoErrors();
  }

  private void acceptReady(int count) {
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(EndpointGroups.endpoints(0, count))
                    .setLoadBalancingPolicyConfig(PeakEwmaConfig.parse(NO_EJECTION))
                    .build()));
    helper.liveSubchannels().forEach(sc -> sc.deliver(READY));
  }

  private Subchannel sub(int i) {
    return helper.subchannelFor(EndpointGroups.endpoint(i));
  }

  /** An RPC's latency and outcome on the endpoint it was picked for. */
  private record Reply(Duration latency, Status status) {}

  /** Runs {@code rpcs} sequential unary RPCs; returns the picks per endpoint. */
  private Map<Subchannel, Integer> run(int rpcs, Function<Subchannel, Reply> pods) {
    Map<Subchannel, Integer> picks = new HashMap<>();
    for (int i = 0; i < rpcs; i++) {
      PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
      ClientStreamTracer tracer =
          result
              .getStreamTracerFactory()
              .newClientStreamTracer(
                  ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata());
      tracer.outboundHeaders();
      Reply reply = pods.apply(result.getSubchannel());
      clock.forward(reply.latency());
      if (reply.status().isOk()) {
        tracer.inboundMessage(0);
      }
      tracer.streamClosed(reply.status());
      picks.merge(result.getSubchannel(), 1, Integer::sum);
    }
    return picks;
  }

  /** 0.3 or 0.5 ms, alternating per RPC: healthy pods whose latency varies a little. */
  private static Function<Subchannel, Reply> healthy() {
    int[] count = {0};
    return sc -> new Reply(Duration.ofNanos(++count[0] % 2 == 0 ? 300_000 : 500_000), Status.OK);
  }

  @Test
  void podWhoseFirstSampleWasCold_sequentialCaller_isProbedAgainAndGetsItsShare() {
    acceptReady(3);
    Subchannel cold = sub(1);
    Function<Subchannel, Reply> healthy = healthy();
    boolean[] warm = {false};
    Function<Subchannel, Reply> pods =
        sc -> {
          if (sc == cold && !warm[0]) {
            warm[0] = true;
            return new Reply(Duration.ofMillis(25), Status.OK); // a cold JVM's first RPC
          }
          return healthy.apply(sc);
        };

    Map<Subchannel, Integer> first = run(1000, pods);
    Map<Subchannel, Integer> next = run(1000, pods);

    // Before: 1 of 1,000 (the first sample held for ~40 s by the 10 s decay). Its estimate now
    // ages with the fleet's RPCs, it is probed again and, healthy, gets about a third.
    assertThat(first.getOrDefault(cold, 0)).as("first 1,000").isGreaterThan(150);
    assertThat(next.getOrDefault(cold, 0)).as("next 1,000").isBetween(250, 420);
  }

  @Test
  void outclassedCandidate_givesUpItsSlot_slowPodIsNotPickedThroughIt() {
    acceptReady(12);
    Subchannel failing = sub(0);
    Subchannel slow = sub(1);
    // Everyone measured: 2 ms, the slow pod 20 ms, the failing one a 1 s failure penalty.
    Map<Subchannel, Integer> measured = new HashMap<>();
    for (int i = 0; i < 1000 && measured.size() < 12; i++) {
      run(
          1,
          sc -> {
            measured.put(sc, 1);
            return sc == failing
                ? new Reply(Duration.ofNanos(100_000), Status.UNIMPLEMENTED)
                : new Reply(Duration.ofMillis(sc == slow ? 20 : 2), Status.OK);
          });
    }
    assertThat(measured).hasSize(12);

    // Picks alone change no estimate: the slow pod wins only the draws that pair it with the
    // failing one (1 in 66 without redraws).
    int slowPicks = 0;
    for (int i = 0; i < 20_000; i++) {
      slowPicks += helper.picker().pickSubchannel(PickArgs.UNARY).getSubchannel() == slow ? 1 : 0;
    }

    assertThat(slowPicks).isLessThan(20); // 0.1 %; it was ~300 (1.5 %)
  }

  @Test
  void slowAndFailingPods_sequentialCaller_slowPodUnderHalfAPercent_failingPodUnderAFifth() {
    acceptReady(12);
    Subchannel failing = sub(0);
    Subchannel slow = sub(1);
    Function<Subchannel, Reply> healthy = healthy();
    Function<Subchannel, Reply> pods =
        sc -> {
          if (sc == failing) {
            return new Reply(Duration.ofNanos(100_000), Status.UNIMPLEMENTED);
          }
          Reply reply = healthy.apply(sc);
          return sc == slow ? new Reply(reply.latency().multipliedBy(10), Status.OK) : reply;
        };
    run(2000, pods);

    Map<Subchannel, Integer> picks = run(20_000, pods);

    // Both are probed again now and then (their estimates age), at a bounded rate. Before: the
    // slow pod got 299 (1.5 %, every draw that paired it with the failing pod), the failing pod 0.
    assertThat(picks.getOrDefault(slow, 0)).as("slow").isBetween(1, 100);
    assertThat(picks.getOrDefault(failing, 0)).as("failing").isBetween(1, 40);
  }
}
