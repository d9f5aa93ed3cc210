package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.EquivalentAddressGroup;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Load-aware zone spill end to end: a real channel, 2 + 2 loopback pods in two zones hinted as
 * EndpointSlices hint them, an open-loop load of fail-fast RPCs (100 a second), and the client's
 * zone slowed by 100 ms: 5 RPCs in flight per local pod, far over the default band.
 */
class ZoneSpillOverLoopbackPodsTest {
  private static final int RATE = 100;

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  private LoopbackPods pods;
  private RpcLoad load;

  private RpcLoad start(Map<String, ?> options) {
    pods = LoopbackPods.start(4);
    cleanup.add(pods);
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      String zone = i < 2 ? "zone-a" : "zone-b";
      groups.add(
          new EquivalentAddressGroup(
              pods.addressGroups().get(i).getAddresses(),
              EndpointAttributes.of(EndpointCondition.READY, zone, Set.of(zone))));
    }
    ManualNameResolverProvider resolver = new ManualNameResolverProvider(groups);
    resolver.update(
        groups, Attributes.newBuilder().set(EndpointAttributes.CLIENT_ZONE, "zone-a").build());
    ManagedChannel channel =
        resolver
            .channelBuilder()
            .defaultServiceConfig(
                Map.of("loadBalancingConfig", List.of(Map.of("kube_round_robin", options))))
            .build();
    cleanup.channel(channel);
    load = RpcLoad.startPaced(channel, RATE, CallOptions.DEFAULT);
    cleanup.add(load);
    await().atMost(Duration.ofSeconds(30)).until(() -> load.snapshot().succeeded() >= 50);
    return load;
  }

  private void slowLocalZone(Duration latency) {
    pods.get(0).setLatency(latency);
    pods.get(1).setLatency(latency);
  }

  /** The share of RPCs zone-b served since the last call; resets the counts. */
  private double otherZoneShareSinceLast() {
    RpcLoad.Result result = load.snapshot();
    load.reset();
    long other = 0;
    for (LoopbackPod pod : pods.all().subList(2, 4)) {
      other += result.served(pod.name());
    }
    assertThat(result.failures()).as("%s", result).isZero();
    return result.succeeded() == 0 ? 0 : (double) other / result.succeeded();
  }

  @Test
  void localZoneSlowed_spillsToTheOtherZone_andReturnsWhenItRecovers() {
    start(Map.of());
    load.reset();
    await().atMost(Duration.ofSeconds(30)).until(() -> load.snapshot().succeeded() >= 2 * RATE);
    assertThat(otherZoneShareSinceLast()).as("healthy: in zone").isZero();

    slowLocalZone(Duration.ofMillis(100));
    // Round robin over 2 local + both others: half; within a 1 s window, more than a quarter.
    await()
        .atMost(Duration.ofSeconds(30))
        .pollDelay(Duration.ofSeconds(1))
        .pollInterval(Duration.ofSeconds(1))
        .until(() -> otherZoneShareSinceLast() > 0.25);

    slowLocalZone(Duration.ZERO);
    await()
        .atMost(Duration.ofSeconds(30))
        .pollDelay(Duration.ofSeconds(1))
        .pollInterval(Duration.ofSeconds(1))
        .until(() -> otherZoneShareSinceLast() == 0);
  }

  @Test
  void localZoneSlowed_spillOff_staticHintsKeepEveryRpcInZone() {
    start(Map.of("zoneSpill", Map.of("enabled", false)));
    slowLocalZone(Duration.ofMillis(100));
    load.reset();

    long target = load.snapshot().succeeded() + 3 * RATE;
    await().atMost(Duration.ofSeconds(30)).until(() -> load.snapshot().succeeded() >= target);

    assertThat(otherZoneShareSinceLast()).isZero();
  }
}
