package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.LoadBalancer.CreateSubchannelArgs;
import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.Subchannel;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** peak_ewma's picker asked directly, over endpoints whose costs the test sets. */
class PeakEwmaPickerTest {
  private static final long RTT = 30_000_000L;

  private final FakeHelper helper = new FakeHelper();
  private final EndpointList<PeakEwmaLoad> list = new EndpointList<>(4);

  /** Adds an endpoint with {@code inFlight} RPCs in flight (0: it costs nothing, a new pod). */
  private Subchannel add(int index, int inFlight) {
    Subchannel[] added = new Subchannel[1];
    helper.run(
        () -> {
          var group = EndpointGroups.endpoint(index);
          added[0] =
              helper.createSubchannel(
                  CreateSubchannelArgs.newBuilder().setAddresses(group).build());
          PeakEwmaLoad load = new PeakEwmaLoad(RTT, 0);
          for (int i = 0; i < inFlight; i++) {
            load.rpcStarted(0);
          }
          PickResult result = PickResult.withSubchannel(added[0]);
          list.add(new Endpoint<>(added[0], group, load), new PickResult[] {result, result});
        });
    return added[0];
  }

  /*
   * Review finding (issue 24): with more than two endpoints the second candidate is drawn by weight
   * among the others. It fell back to a uniform draw after 4 weighted draws that hit the first
   * candidate again, so a ramping pod next to two serving ones was a candidate in about 4.5 % of
   * picks instead of 1.5 % (its weight share is 0.5 %). Being new and idle it wins every draw it is
   * in, so its share of picks is exactly how often it is a candidate.
   */
  @Test
  void twoChoices_rampingEndpointAmongThree_isACandidateExactlyInProportionToItsWeight() {
    double[] weights = {1, 1, 0.01};
    add(0, 1);
    add(1, 1);
    Subchannel ramping = add(2, 0);
    PeakEwmaPicker picker =
        new PeakEwmaPicker(
            list.snapshot(),
            weights,
            true,
            new int[0],
            PeakEwmaConfig.defaults(),
            new RecentClock(() -> 0L),
            new FleetLatency(RTT),
            new Random(24)::nextInt);

    int picks = 200_000;
    int toRamping = 0;
    for (int i = 0; i < picks; i++) {
      toRamping += picker.pickSubchannel(PickArgs.UNARY).getSubchannel() == ramping ? 1 : 0;
    }

    // First candidate by weight, second by weight among the other two (without replacement).
    double total = weights[0] + weights[1] + weights[2];
    double expected =
        weights[2] / total
            + weights[0] / total * weights[2] / (total - weights[0])
            + weights[1] / total * weights[2] / (total - weights[1]);
    assertThat((double) toRamping / picks).isCloseTo(expected, within(0.002));
  }
}
