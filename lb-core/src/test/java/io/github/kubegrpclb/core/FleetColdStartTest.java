package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.util.concurrent.ListenableFuture;
import io.github.kubegrpclb.testing.LoopbackFleet;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.ReadyCountingPolicy;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A fresh channel to 200 real loopback pods (one server on 200 addresses) connects to every pod and
 * sends traffic to each, with fail-fast RPCs: the rotation kept one state change at a time ends up
 * holding every endpoint when connections complete one by one over real TCP.
 */
class FleetColdStartTest {
  private static final int PODS = 200;
  private static LoopbackFleet fleet;

  @BeforeAll
  static void startFleet() {
    fleet = LoopbackFleet.start(PODS);
  }

  @AfterAll
  static void stopFleet() {
    fleet.close();
  }

  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void coldStart_everySubchannelReady_andEveryPodServes(String policy) throws Exception {
    try (ReadyCountingPolicy counting =
        ReadyCountingPolicy.register("fleet_cold_start_" + policy, policy)) {
      ManagedChannel channel =
          new ManualNameResolverProvider(fleet.addressGroups())
              .channelBuilder()
              .defaultServiceConfig(ServiceConfigs.policy(counting.getPolicyName()))
              .build();
      try {
        BitSet served = new BitSet();
        served.set(whoami(channel)); // fail-fast: buffered only while the channel connects
        Awaitility.await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> counting.readyCount() == PODS);
        for (int batch = 0; batch < 50 && served.cardinality() < PODS; batch++) {
          List<ListenableFuture<String>> calls = new ArrayList<>();
          for (int i = 0; i < PODS; i++) {
            calls.add(
                ClientCalls.futureUnaryCall(
                    channel.newCall(PodService.WHOAMI, deadline()), "fleet cold start"));
          }
          for (ListenableFuture<String> call : calls) {
            served.set(podIndex(call.get()));
          }
        }

        assertThat(served.cardinality()).as("pods that served an RPC").isEqualTo(PODS);
      } finally {
        channel.shutdownNow();
        channel.awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  private static int whoami(ManagedChannel channel) {
    return podIndex(PodService.whoami(channel, deadline()));
  }

  private static CallOptions deadline() {
    return CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  private static int podIndex(String pod) {
    return Integer.parseInt(pod.substring("pod-".length()));
  }
}
