package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.READY;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.github.kubegrpclb.testing.PodService;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.LoadBalancer.SubchannelPicker;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.IntUnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The stream rebalancer on the fake clock, through {@code kube_round_robin}: placement by open
 * streams, the tolerance band, the per-interval share, jitter, oldest first, and draining.
 */
class StreamRebalancerTest {
  private final FakeHelper helper = new FakeHelper();
  private final FakeClock clock = helper.clock();
  // Jitter draws from this; a test that checks timing sets it.
  private IntUnaryOperator random = bound -> 0;
  private final EndpointSetLoadBalancer<Void> balancer =
      KubeRoundRobinPolicy.balancer(
          helper, bound -> random.applyAsInt(bound), clock.ticker(), (sc, t, cb) -> {});
  private final List<TestStream> streams = new ArrayList<>();
  private final List<TestStream> ended = new ArrayList<>();
  private boolean reopen = true;

  @AfterEach
  void noErrorsInSyncContext() {
    helper.checkNoErrors();
  }

  private static Map<String, ?> config(Map<String, ?> streamRebalancing) {
    return Map.of("streamRebalancing", streamRebalancing, "slowStart", Map.of("enabled", false));
  }

  private static Map<String, Object> on(Object... keyValues) {
    Map<String, Object> raw = new HashMap<>();
    raw.put("enabled", true);
    raw.put("interval", "1s");
    raw.put("jitter", 0.0);
    for (int i = 0; i < keyValues.length; i += 2) {
      raw.put((String) keyValues[i], keyValues[i + 1]);
    }
    return raw;
  }

  private void accept(List<EquivalentAddressGroup> groups, Map<String, ?> raw) {
    acceptConnecting(groups, raw);
    for (FakeHelper.FakeSubchannel subchannel : helper.liveSubchannels()) {
      subchannel.deliver(READY);
    }
    clock.runDueTasks();
  }

  /** Accepts the groups and leaves new endpoints connecting. */
  private void acceptConnecting(List<EquivalentAddressGroup> groups, Map<String, ?> raw) {
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(groups)
                    .setLoadBalancingPolicyConfig(KubeRoundRobinConfig.parse(raw))
                    .build()));
  }

  private static EquivalentAddressGroup terminating(EquivalentAddressGroup group) {
    return new EquivalentAddressGroup(
        group.getAddresses(),
        EndpointAttributes.of(EndpointCondition.TERMINATING_SERVING, null, Set.of()));
  }

  /** A streaming call as the interceptor makes it: a handle, a call that records its cancel. */
  private final class TestStream extends ClientCall<String, String> {
    final StreamHandle handle;
    Subchannel subchannel;
    Status closedWith;
    long endedAtNanos;

    TestStream(StreamRebalancing.MoveHandler handler) {
      handle = new StreamHandle(handler);
      handle.setCall(this);
    }

    @Override
    public void start(Listener<String> listener, Metadata headers) {}

    @Override
    public void request(int n) {}

    @Override
    public void cancel(String message, Throwable cause) {
      closedWith = handle.closed(Status.CANCELLED.withDescription(message));
      endedAtNanos = clock.nanoTime();
      streams.remove(this);
      ended.add(this);
      if (reopen) {
        open(1);
      }
    }

    @Override
    public void halfClose() {}

    @Override
    public void sendMessage(String message) {}
  }

  private List<TestStream> open(int n) {
    return open(n, null);
  }

  private List<TestStream> open(int n, StreamRebalancing.MoveHandler handler) {
    List<TestStream> opened = new ArrayList<>();
    SubchannelPicker picker = helper.picker();
    for (int i = 0; i < n; i++) {
      TestStream stream = new TestStream(handler);
      stream.subchannel =
          picker
              .pickSubchannel(
                  new PickArgs(
                      PodService.UPLOAD,
                      CallOptions.DEFAULT.withOption(StreamHandle.KEY, stream.handle)))
              .getSubchannel();
      streams.add(stream);
      opened.add(stream);
    }
    return opened;
  }

  /** Open streams per subchannel, in the order the subchannels were created. */
  private List<Integer> perEndpoint() {
    List<Integer> counts = new ArrayList<>();
    for (Subchannel subchannel : helper.liveSubchannels()) {
      counts.add((int) streams.stream().filter(s -> s.subchannel == subchannel).count());
    }
    return counts;
  }

  @Test
  void placement_streamsGoToTheEndpointWithFewestOpen_unaryPicksStayRoundRobin() {
    accept(EndpointGroups.endpoints(0, 3), config(on()));
    open(9);
    assertThat(perEndpoint()).containsExactly(3, 3, 3);
    streams.removeIf(s -> s.subchannel == helper.liveSubchannels().get(0) && closeQuietly(s));
    open(3);
    assertThat(perEndpoint()).containsExactly(3, 3, 3);

    List<Subchannel> unary = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      unary.add(helper.picker().pickSubchannel(PickArgs.UNARY).getSubchannel());
    }
    assertThat(Set.copyOf(unary)).hasSize(3);
    assertThat(unary.subList(0, 3)).isEqualTo(unary.subList(3, 6));
  }

  private static boolean closeQuietly(TestStream stream) {
    stream.handle.closed(Status.OK);
    return true;
  }

  @Test
  void off_byDefault_pickerIsThePolicysAndNothingEnds() {
    accept(EndpointGroups.endpoints(0, 4), Map.of());
    assertThat(helper.picker()).isInstanceOf(KubeRoundRobinPolicy.Picker.class);
    open(16);
    accept(EndpointGroups.endpoints(0, 8), Map.of());
    clock.forward(Duration.ofSeconds(60));
    assertThat(ended).isEmpty();
  }

  @Test
  void scaleUp_endsTheFewestStreamsThatReachTheBand_thenNoneWhileBalanced() {
    accept(EndpointGroups.endpoints(0, 4), config(on()));
    open(64);
    assertThat(perEndpoint()).containsExactly(16, 16, 16, 16);

    accept(EndpointGroups.endpoints(0, 8), config(on()));
    clock.forward(Duration.ofSeconds(10));

    // Fair share 8, band [7, 9] at tolerance 0.2: 7 moves from each old endpoint.
    assertThat(perEndpoint()).containsExactly(9, 9, 9, 9, 7, 7, 7, 7);
    assertThat(ended).hasSize(28);
    clock.forward(Duration.ofSeconds(60));
    assertThat(ended).hasSize(28);
  }

  @Test
  void scaleUp_newEndpointsStillConnectingAtACheck_movesAreStillScaleUp() {
    accept(EndpointGroups.endpoints(0, 2), config(on()));
    open(16);
    acceptConnecting(EndpointGroups.endpoints(0, 4), config(on()));
    clock.forward(Duration.ofSeconds(3)); // rounds over the 2 connected ones: balanced
    assertThat(ended).isEmpty();
    helper.liveSubchannels().forEach(sc -> sc.deliver(READY));
    clock.forward(Duration.ofSeconds(3));

    assertThat(ended).hasSize(8);
    assertThat(ended)
        .allSatisfy(
            s ->
                assertThat(s.closedWith.getDescription())
                    .startsWith(StreamRebalancing.MOVED_DESCRIPTION_PREFIX + ": scale_up"));
    clock.forward(Duration.ofSeconds(3));
    streams.get(0).handle.closed(Status.OK); // drift after balance: 3 4 4 4 is in the band
    streams.remove(0);
    clock.forward(Duration.ofSeconds(3));
    assertThat(ended).hasSize(8);
  }

  @Test
  void tolerance_countsWithinTheBand_endNothing() {
    accept(EndpointGroups.endpoints(0, 4), config(on("tolerance", 1.0)));
    open(64);
    accept(EndpointGroups.endpoints(0, 8), config(on("tolerance", 1.0)));
    clock.forward(Duration.ofSeconds(30));
    // Fair share 8, band [0, 16]: 16 on each old endpoint is within it.
    assertThat(ended).isEmpty();
    assertThat(perEndpoint()).containsExactly(16, 16, 16, 16, 0, 0, 0, 0);
  }

  @Test
  void rateLimit_endsAtMostTheShareOfOpenStreamsPerInterval() {
    Map<String, Object> options = on("maxSharePerInterval", 0.1);
    accept(EndpointGroups.endpoints(0, 4), config(options));
    open(64);
    accept(EndpointGroups.endpoints(0, 8), config(options));
    List<Integer> perInterval = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      int before = ended.size();
      clock.forward(Duration.ofSeconds(1));
      perInterval.add(ended.size() - before);
    }
    // 10 % of 64 open streams is 6 per interval; 28 in all.
    assertThat(perInterval).containsExactly(6, 6, 6, 6, 4, 0, 0, 0);
  }

  @Test
  void rounds_waitWhileTheLastRoundsStreamsAreStillOpen_upToThreeIntervals() {
    List<Status> told = new ArrayList<>();
    accept(EndpointGroups.endpoints(0, 4), config(on()));
    open(64, told::add); // the application is told and, here, never acts
    accept(EndpointGroups.endpoints(0, 8), config(on()));
    clock.forward(Duration.ofMillis(3500));
    assertThat(told).hasSize(16); // one round; the next two waited for those 16 to close
    clock.forward(Duration.ofSeconds(1));
    assertThat(told).hasSize(32);
  }

  @Test
  void jitter_stretchesEachIntervalByARandomShare_neverShortensIt() {
    random = bound -> bound / 2; // the middle of the jitter range
    Map<String, Object> options = on("jitter", 0.5);
    accept(EndpointGroups.endpoints(0, 4), config(options));
    open(64);
    accept(EndpointGroups.endpoints(0, 8), config(options));
    clock.forward(Duration.ofMillis(1240));
    assertThat(ended).isEmpty();
    clock.forward(Duration.ofMillis(20)); // 1 s x (1 + 0.5 x 0.5)
    // The count is jittered too: 16 planned, a draw in [8, 16] at jitter 0.5, the middle one.
    assertThat(ended).hasSize(12);
  }

  /** Streams ended per round, over {@code rounds} rounds {@code round} apart. */
  private List<Integer> endedPerRound(int rounds, Duration round) {
    List<Integer> perRound = new ArrayList<>();
    for (int i = 0; i < rounds; i++) {
      int before = ended.size();
      clock.forward(round);
      perRound.add(ended.size() - before);
    }
    return perRound;
  }

  @Test
  void jitter_countPerRound_drawnDownToItsShare_totalStaysTheMinimumNeeded() {
    random = bound -> bound - 1; // the largest cut the jitter allows, every round
    Map<String, Object> options = on("jitter", 0.5);
    accept(EndpointGroups.endpoints(0, 4), config(options));
    open(64);
    accept(EndpointGroups.endpoints(0, 8), config(options));

    // Each interval is stretched to ~1.5 s. Planned per round (the minimum needed, at most 16 =
    // 25 % of 64): 16, 16, 12, 6, 3, 1; ended: the ceiling of half of it. Without the count's
    // jitter the rounds were 16, 12.
    assertThat(endedPerRound(8, Duration.ofMillis(1500))).containsExactly(8, 8, 6, 3, 2, 1, 0, 0);
    assertThat(ended).hasSize(28);
    assertThat(perEndpoint()).containsExactly(9, 9, 9, 9, 7, 7, 7, 7);
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
  void jitter_seededDraws_neverAboveTheShareInARound_totalIsTheMinimum(long seed) {
    Random draws = new Random(seed);
    random = draws::nextInt;
    Map<String, Object> options = on("jitter", 0.2, "maxSharePerInterval", 0.25);
    accept(EndpointGroups.endpoints(0, 4), config(options));
    open(64);
    accept(EndpointGroups.endpoints(0, 8), config(options));

    clock.forward(Duration.ofSeconds(30));

    // A round ends its streams at one instant: group the ends by it.
    Map<Long, Integer> perRound = new TreeMap<>();
    ended.forEach(s -> perRound.merge(s.endedAtNanos, 1, Integer::sum));
    assertThat(perRound.values()).allSatisfy(n -> assertThat(n).isBetween(1, 16));
    assertThat(ended).hasSize(28);
    assertThat(perEndpoint()).containsExactly(9, 9, 9, 9, 7, 7, 7, 7);
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
  void steadySet_tenMinutesOfNaturalChurn_noStreamEnded(long seed) {
    random = new Random(seed)::nextInt;
    Random draws = new Random(-seed);
    Map<String, Object> options = on("jitter", 0.2);
    accept(EndpointGroups.endpoints(0, 8), config(options));
    open(64);
    reopen = false;
    // Each stream ends on its own after 30 s on average (a watch's lease, a finished
    // subscription) and the application opens it again 0-2 s later, placed by the balancer.
    List<Long> reopenAt = new ArrayList<>();
    int naturalEnds = 0;
    Duration tick = Duration.ofMillis(100);
    for (long t = 0; t < Duration.ofMinutes(10).toMillis(); t += tick.toMillis()) {
      for (TestStream stream : List.copyOf(streams)) {
        if (draws.nextInt(300) == 0) {
          stream.handle.closed(Status.OK);
          streams.remove(stream);
          reopenAt.add(t + draws.nextInt(2000));
          naturalEnds++;
        }
      }
      long now = t;
      int due = (int) reopenAt.stream().filter(at -> at <= now).count();
      reopenAt.removeIf(at -> at <= now);
      open(due);
      clock.forward(tick);
    }

    assertThat(naturalEnds).isGreaterThan(1000);
    assertThat(ended).isEmpty();
  }

  @Test
  void shortStreamingCalls_closingOnTheirOwn_doNotHoldBackAScaleUp() {
    Map<String, Object> options = on("maxSharePerInterval", 1.0);
    accept(EndpointGroups.endpoints(0, 3), config(options));
    open(15); // long-lived watches, 5 per endpoint
    accept(EndpointGroups.endpoints(0, 4), config(options));
    // Meanwhile a short server-streaming call every 100 ms that finishes 50 ms later: not a
    // long-lived stream, so its close is no re-open that would fill the new endpoint.
    for (int tick = 0; tick < 50; tick++) {
      for (TestStream call : open(1)) {
        clock.forward(Duration.ofMillis(50));
        call.handle.closed(Status.OK);
        streams.remove(call);
      }
      clock.forward(Duration.ofMillis(50));
    }

    assertThat(perEndpoint().get(3)).isGreaterThanOrEqualTo(3);
  }

  @Test
  void closedOnTheirOwn_andNotReopened_areRebalancedOnlyAfterTwoIntervals() {
    accept(EndpointGroups.endpoints(0, 4), config(on()));
    open(32);
    clock.forward(Duration.ofMillis(1500)); // rounds at 1 s, 2 s, 3 s ...; long-lived by now
    Subchannel first = helper.liveSubchannels().get(0);
    for (TestStream stream : List.copyOf(streams)) {
      if (stream.subchannel == first) {
        stream.handle.closed(Status.OK); // the application finished them: they do not come back
        streams.remove(stream);
      }
    }
    assertThat(perEndpoint()).containsExactly(0, 8, 8, 8);

    // Counted as re-opening at the next two rounds (2 s, 3 s): nothing moves.
    clock.forward(Duration.ofSeconds(2));
    assertThat(ended).isEmpty();
    // Then the hole is real: fair 6, band [5, 7]; the fewest moves that reach it, 5.
    clock.forward(Duration.ofSeconds(1));
    assertThat(ended).hasSize(5);
    assertThat(perEndpoint()).containsExactly(5, 6, 6, 7);
  }

  @Test
  void oldestFirst_eachEndpointEndsItsOldestStreams() {
    Map<String, Object> options = on("maxSharePerInterval", 1.0);
    accept(EndpointGroups.endpoints(0, 2), config(options));
    List<TestStream> first = open(20);
    reopen = false;
    accept(EndpointGroups.endpoints(0, 3), config(options));
    clock.forward(Duration.ofSeconds(1));
    // 20 over 3: fair 6.7, band [6, 8]; the new endpoint is 6 short: 3 from each old endpoint,
    // the three opened first there.
    assertThat(ended).hasSize(6);
    for (TestStream stream : ended) {
      List<TestStream> sameEndpoint =
          first.stream().filter(s -> s.subchannel == stream.subchannel).toList();
      assertThat(sameEndpoint.indexOf(stream)).isLessThan(3);
    }
    assertThat(ended.get(0).closedWith.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(ended.get(0).closedWith.getDescription())
        .startsWith(StreamRebalancing.MOVED_DESCRIPTION_PREFIX + ": scale_up");
    assertThat(StreamRebalancing.isMove(ended.get(0).closedWith)).isTrue();
  }

  @Test
  void terminatingEndpoint_streamsMovedInStepsWithinTheDrainShareOfTheGrace() {
    Map<String, Object> options = on("terminationGrace", "10s", "drainShare", 0.5);
    accept(EndpointGroups.endpoints(0, 4), config(options));
    open(32);
    Subchannel leaving = helper.liveSubchannels().get(3);
    List<EquivalentAddressGroup> groups = new ArrayList<>(EndpointGroups.endpoints(0, 3));
    groups.add(terminating(EndpointGroups.endpoint(3)));
    accept(groups, config(options));

    clock.forward(Duration.ofMillis(2500));
    long movedHalfway = ended.stream().filter(s -> s.subchannel == leaving).count();
    assertThat(movedHalfway).isBetween(2L, 6L);
    clock.forward(Duration.ofMillis(2500));
    assertThat(streams.stream().filter(s -> s.subchannel == leaving)).isEmpty();
    assertThat(ended).hasSize(8);
    assertThat(ended.get(0).closedWith.getDescription()).contains("terminating");
    assertThat(perEndpoint().subList(0, 3)).containsExactly(11, 11, 10);
  }

  @Test
  void removedEndpoint_streamsMovedBeforeTheDrainDeadline() {
    Map<String, Object> options = on("terminationGrace", "4s", "drainShare", 0.5);
    accept(EndpointGroups.endpoints(0, 4), config(options));
    open(16);
    accept(EndpointGroups.endpoints(0, 3), config(options));
    clock.forward(Duration.ofSeconds(2));
    assertThat(ended).hasSize(4);
    assertThat(perEndpoint()).containsExactly(6, 5, 5);
  }

  @Test
  void moveHandler_isToldInsteadOfACancel_andCancelledOnlyAtTheDrainDeadline() {
    List<Status> told = new ArrayList<>();
    Map<String, Object> options = on("terminationGrace", "8s", "drainShare", 0.5);
    accept(EndpointGroups.endpoints(0, 2), config(options));
    open(4, told::add);
    accept(
        List.of(EndpointGroups.endpoint(0), terminating(EndpointGroups.endpoint(1))),
        config(options));
    clock.forward(Duration.ofMillis(3600));
    assertThat(told).hasSize(2);
    assertThat(ended).isEmpty();
    reopen = false;
    clock.forward(Duration.ofMillis(500));
    assertThat(ended).hasSize(2); // the application did nothing: cancelled at the deadline
  }
}
