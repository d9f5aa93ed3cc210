package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.READY;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.CallOptions;
import io.grpc.ClientStreamTracer;
import io.grpc.Deadline;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * peak_ewma's cost model against sick endpoints, on a fake clock: hung endpoints, fast failures,
 * deadlines seen as CANCELLED, pushback, streams and attempts that never start. Outlier ejection is
 * off here so that the cost alone is tested.
 */
class PeakEwmaSickEndpointTest {
  private static final Map<String, ?> NO_EJECTION =
      Map.of("outlierEjection", Map.of("enabled", false));

  private final FakeHelper helper = new FakeHelper();
  private final FakeClock clock = helper.clock();
  private final Random random = new Random(7);
  private final EndpointSetLoadBalancer<PeakEwmaLoad> balancer =
      PeakEwmaPolicy.balancer(helper, clock.ticker(), random::nextInt, (sc, t, cb) -> {});
  private final List<ClientStreamTracer> hanging = new ArrayList<>();

  @AfterEach
  void noErrorsInSyncContext() {
    helper.checkNoErrors();
  }

  private void acceptReady(int count) {
    acceptReady(EndpointGroups.endpoints(0, count));
  }

  private void acceptReady(List<EquivalentAddressGroup> groups) {
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(groups)
                    .setLoadBalancingPolicyConfig(PeakEwmaConfig.parse(NO_EJECTION))
                    .build()));
    for (FakeHelper.FakeSubchannel subchannel : helper.liveSubchannels()) {
      subchannel.deliver(READY);
    }
  }

  private Subchannel sub(int i) {
    return helper.subchannelFor(EndpointGroups.endpoint(i));
  }

  private static ClientStreamTracer start(PickResult result, CallOptions options) {
    ClientStreamTracer tracer =
        result
            .getStreamTracerFactory()
            .newClientStreamTracer(
                ClientStreamTracer.StreamInfo.newBuilder().setCallOptions(options).build(),
                new Metadata());
    tracer.outboundHeaders();
    return tracer;
  }

  /**
   * Runs {@code rpcs} sequential unary RPCs, 1 ms of fake time each; an RPC picked onto {@code
   * sick} gets {@code sickOutcome} (null: it never completes). Returns picks of {@code sick}.
   */
  private int run(int rpcs, Subchannel sick, Status sickOutcome) {
    int picked = 0;
    for (int i = 0; i < rpcs; i++) {
      PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
      ClientStreamTracer tracer = start(result, CallOptions.DEFAULT);
      boolean onSick = result.getSubchannel() == sick;
      picked += onSick ? 1 : 0;
      if (onSick && sickOutcome == null) {
        hanging.add(tracer);
        clock.forward(Duration.ofMillis(1));
        continue;
      }
      clock.forward(onSick ? Duration.ofNanos(100_000) : Duration.ofMillis(1));
      Status outcome = onSick ? sickOutcome : Status.OK;
      if (outcome.isOk()) {
        tracer.inboundMessage(0);
      }
      tracer.streamClosed(outcome);
    }
    return picked;
  }

  @Test
  void hungEndpoint_noDeadlines_getsUnder1PercentAfter2s_andStaysOutForMinutes() {
    acceptReady(4);
    run(2000, null, Status.OK); // all four measured at 1 ms
    Subchannel hung = sub(1);

    run(2000, hung, null); // 2 s: its RPCs never come back
    assertThat(run(10_000, hung, null)).isLessThan(100);
    // Its cost must not decay while its RPCs are stuck: one more minute, then measure again.
    run(60_000, hung, null);
    assertThat(run(10_000, hung, null)).as("after a minute").isLessThan(100);
  }

  @Test
  void newEndpointWhoseFirstRpcsHang_getsAFewProbes_notAFlood() {
    acceptReady(4);
    run(2000, null, Status.OK);
    acceptReady(EndpointGroups.endpoints(0, 5));
    Subchannel joined = sub(4);

    int first = run(2000, joined, null);
    int later = run(30_000, joined, null);

    assertThat(first).isLessThan(20);
    assertThat(later).isLessThan(30);
  }

  @Test
  void unimplementedIn100us_getsUnder1Percent() {
    acceptReady(4);
    Subchannel skewed = sub(2);

    int picked = run(20_000, skewed, Status.UNIMPLEMENTED);

    assertThat(picked).isLessThan(200);
  }

  @Test
  void applicationError_isAFastSuccess_notAFailure() {
    acceptReady(4);
    Subchannel notFound = sub(2);

    int picked = run(20_000, notFound, Status.NOT_FOUND); // answers in 0.1 ms

    assertThat(picked).isGreaterThan(5000); // faster than the others, so favoured
  }

  @Test
  void cancelledAfterItsDeadline_countsAsDeadlineExceeded() {
    acceptReady(1);
    PeakEwmaLoad load = balancer.policyStateOf(sub(0));
    Deadline.Ticker ticker =
        new Deadline.Ticker() {
          @Override
          public long nanoTime() {
            return clock.nanoTime();
          }
        };
    CallOptions withDeadline =
        CallOptions.DEFAULT.withDeadline(Deadline.after(100, TimeUnit.MILLISECONDS, ticker));

    ClientStreamTracer early = start(helper.picker().pickSubchannel(PickArgs.UNARY), withDeadline);
    clock.forward(Duration.ofMillis(50));
    early.streamClosed(Status.CANCELLED); // the client gave up before the deadline
    assertThat(
            load.estimateNanos(
                clock.nanoTime(), 1e10, ((PeakEwmaPolicy) balancer.policy()).fleet()))
        .isLessThan(31e6); // no sample

    ClientStreamTracer late = start(helper.picker().pickSubchannel(PickArgs.UNARY), withDeadline);
    clock.forward(Duration.ofMillis(60)); // past the deadline; retries report CANCELLED
    late.streamClosed(
        Status.CANCELLED.withDescription("Stream thrown away because RetriableStream committed"));
    assertThat(
            load.estimateNanos(
                clock.nanoTime(), 1e10, ((PeakEwmaPolicy) balancer.policy()).fleet()))
        .isEqualTo(1e9); // failure penalty
  }

  @Test
  void retryPushback_keepsTheEndpointOutUntilItEnds() {
    acceptReady(2);
    run(200, null, Status.OK);
    PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
    Subchannel pushing = result.getSubchannel();
    ClientStreamTracer tracer = start(result, CallOptions.DEFAULT);
    Metadata trailers = new Metadata();
    trailers.put(PeakEwmaRecorder.PUSHBACK, "500");
    tracer.inboundTrailers(trailers);
    tracer.streamClosed(Status.CANCELLED); // a client cancel: no sample, the pushback still holds

    int during = run(400, pushing, Status.OK); // 400 ms
    clock.forward(Duration.ofMillis(150));
    int after = run(400, pushing, Status.OK);

    assertThat(during).isZero();
    assertThat(after).isGreaterThan(100);
  }

  @Test
  void streams_carryNoTracer_andLeaveTheCostAlone() {
    acceptReady(2);
    PickResult stream = helper.picker().pickSubchannel(PickArgs.CLIENT_STREAMING);

    assertThat(stream.getSubchannel()).isNotNull();
    assertThat(stream.getStreamTracerFactory()).isNull();
    assertThat(helper.picker().pickSubchannel(PickArgs.UNARY).getStreamTracerFactory()).isNotNull();
  }

  @Test
  void attemptNeverStarted_neverCountsInFlight() {
    acceptReady(1);
    PeakEwmaLoad load = balancer.policyStateOf(sub(0));
    PickResult result = helper.picker().pickSubchannel(PickArgs.UNARY);
    ClientStreamTracer.StreamInfo info = ClientStreamTracer.StreamInfo.newBuilder().build();

    // A cancel racing the stream's start: grpc-java creates the tracer, never starts the stream.
    result.getStreamTracerFactory().newClientStreamTracer(info, new Metadata());
    assertThat(load.inFlight()).isZero();
    // Closed before its headers went out (a pick on a transport that was shutting down).
    result
        .getStreamTracerFactory()
        .newClientStreamTracer(info, new Metadata())
        .streamClosed(Status.UNAVAILABLE);
    assertThat(load.inFlight()).isZero();
    ClientStreamTracer started = start(result, CallOptions.DEFAULT);
    assertThat(load.inFlight()).isOne();
    started.streamClosed(Status.OK);
    started.streamClosed(Status.OK); // a second close must not count twice
    assertThat(load.inFlight()).isZero();
  }

  @Test
  void endpointLoad_stall_isALowerBoundOnTheOldestPendingAge() {
    double tau = 1e10;
    FleetLatency fleet = new FleetLatency(30e6);
    PeakEwmaLoad load = new PeakEwmaLoad(30_000_000, 0);
    load.observe(1_000_000, 0, fleet.record(1e6, true), tau, fleet); // 1 ms, the fleet's typical

    load.rpcStarted(0); // never finishes
    load.rpcStarted(500_000_000);
    load.rpcFinished(600_000_000); // the second one finished: progress at 0.6 s

    // 2 s: stuck since 0.6 s at least (the oldest is 2 s old; the bound is 1.4 s).
    assertThat(load.cost(2_000_000_000, tau, fleet)).isEqualTo(1.4e9 * 2);
    load.rpcFinished(2_000_000_000);
    double w = Math.exp(-0.2); // aged 2 s toward half the typical
    assertThat(load.cost(2_000_000_000, tau, fleet))
        .isCloseTo(1e6 * w + 0.5e6 * (1 - w), within(1.0));
  }

  private static org.assertj.core.data.Offset<Double> within(double offset) {
    return org.assertj.core.data.Offset.offset(offset);
  }
}
