package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.READY;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancer.ResolvedAddresses;
import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A pick allocates nothing, with outlier ejection on and an endpoint in slow start, and with stream
 * rebalancing on: measured with the JVM's per-thread allocation counter over 200,000 picks.
 */
class PickAllocationTest {
  @ParameterizedTest
  @ValueSource(
      strings = {"kube_round_robin", "peak_ewma", "kube_round_robin streams", "peak_ewma streams"})
  void pick_allocatesNothing_withEjectionOnAndAnEndpointRamping(String variant) {
    // "streams": stream rebalancing on, so the policy's picker is wrapped (unary picks pass
    // through)
    String policy = variant.split(" ")[0];
    Map<String, ?> raw =
        variant.endsWith(" streams")
            ? Map.of("streamRebalancing", Map.of("enabled", true))
            : Map.of();
    FakeHelper helper = new FakeHelper();
    Random random = new Random(5);
    LoadBalancer balancer;
    Object config;
    if (policy.equals("peak_ewma")) {
      balancer =
          PeakEwmaPolicy.balancer(
              helper, helper.clock().ticker(), random::nextInt, (sc, t, cb) -> {});
      config = PeakEwmaConfig.parse(raw);
    } else {
      balancer =
          KubeRoundRobinPolicy.balancer(
              helper, random::nextInt, helper.clock().ticker(), (sc, t, cb) -> {});
      config = KubeRoundRobinConfig.parse(raw);
    }
    for (int count : new int[] {100, 101}) { // the 101st joins under traffic: it ramps
      helper.run(
          () ->
              balancer.acceptResolvedAddresses(
                  ResolvedAddresses.newBuilder()
                      .setAddresses(EndpointGroups.endpoints(0, count))
                      .setLoadBalancingPolicyConfig(config)
                      .build()));
      helper.liveSubchannels().forEach(sc -> sc.deliver(READY));
    }
    LoadBalancer.SubchannelPicker picker = helper.picker();
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long thread = Thread.currentThread().getId();
    for (int i = 0; i < 200_000; i++) {
      picker.pickSubchannel(PickArgs.UNARY); // warm up
    }

    long before = threads.getThreadAllocatedBytes(thread);
    for (int i = 0; i < 200_000; i++) {
      picker.pickSubchannel(PickArgs.UNARY);
    }
    long allocated = threads.getThreadAllocatedBytes(thread) - before;

    assertThat(allocated).as("bytes allocated by 200,000 picks").isLessThan(10_000);
  }
}
