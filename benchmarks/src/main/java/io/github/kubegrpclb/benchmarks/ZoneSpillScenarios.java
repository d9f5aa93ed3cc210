package io.github.kubegrpclb.benchmarks;

import io.github.kubegrpclb.core.EndpointAttributes;
import io.github.kubegrpclb.core.EndpointCondition;
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
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The load-aware zone spill rows of {@link ScenarioBenchmark}: two zones of 3 loopback pods, zone
 * hints set as the resolvers set them, the client in zone-a; an open-loop load of fail-fast RPCs;
 * the local zone's pods are slowed by 100 ms, then recover. Each policy with zone spill on (the
 * default) and off (static hints, kube-proxy's behaviour), in the same run.
 */
public final class ZoneSpillScenarios {
  private static final int RATE = 100;
  private static final int PODS_PER_ZONE = 3;
  private static final Duration SLOWDOWN = Duration.ofMillis(100);

  private ZoneSpillScenarios() {}

  /** Prints only these rows (ScenarioBenchmark prints them with the rest). */
  public static void main(String[] args) {
    System.out.println(markdown());
    System.exit(0);
  }

  static String markdown() {
    StringBuilder md =
        new StringBuilder(
            "## Load-aware zone spill: the local zone's 3 pods +100 ms (2 zones x 3 pods, "
                + RATE
                + " RPCs/s open loop, fail-fast)\n\n"
                + "Each row: fresh pods and channel; the client is in zone-a and every endpoint is"
                + " hinted for its own zone, as the resolvers report EndpointSlice hints. Other"
                + " zone's share: the RPCs served by zone-b's pods. Healthy: 3 s after a 3 s"
                + " warm-up. Slowed: zone-a's pods answer 100 ms later; 3 s measured after 2 s."
                + " Recovered: zone-a fast again; 3 s measured after 3 s. Zone spill off is static"
                + " hints (`\"zoneSpill\": {\"enabled\": false}`), kube-proxy's behaviour.\n\n"
                + "| policy | zone spill | healthy: other zone's share | healthy p50 ms"
                + " | slowed: other zone's share | slowed p50 ms | slowed p99 ms"
                + " | recovered: other zone's share | failed RPCs |\n"
                + "|---|---|---|---|---|---|---|---|---|\n");
    row("kube_round_robin", false); // discarded: warms up the JVM, so row 1 is not the cold one
    for (String policy : new String[] {"kube_round_robin", "peak_ewma"}) {
      for (boolean spill : new boolean[] {true, false}) {
        md.append(row(policy, spill));
      }
    }
    return md.append('\n').toString();
  }

  private static String row(String policy, boolean spill) {
    try (LoopbackPods pods = LoopbackPods.start(2 * PODS_PER_ZONE)) {
      List<EquivalentAddressGroup> groups = new ArrayList<>();
      for (int i = 0; i < pods.size(); i++) {
        String zone = i < PODS_PER_ZONE ? "zone-a" : "zone-b";
        groups.add(
            new EquivalentAddressGroup(
                pods.addressGroups().get(i).getAddresses(),
                EndpointAttributes.of(EndpointCondition.READY, zone, Set.of(zone))));
      }
      ManualNameResolverProvider resolver = new ManualNameResolverProvider(groups);
      resolver.update(
          groups, Attributes.newBuilder().set(EndpointAttributes.CLIENT_ZONE, "zone-a").build());
      Map<String, ?> options = spill ? Map.of() : Map.of("zoneSpill", Map.of("enabled", false));
      ManagedChannel channel =
          resolver
              .channelBuilder()
              .defaultServiceConfig(Map.of("loadBalancingConfig", List.of(Map.of(policy, options))))
              .build();
      try (RpcLoad load = RpcLoad.startPaced(channel, RATE, CallOptions.DEFAULT)) {
        ScenarioSupport.awaitFor(
            Duration.ofSeconds(3)); // connect, JIT: a cold JVM's first RPCs are slow
        load.reset();
        ScenarioSupport.awaitFor(Duration.ofSeconds(3));
        RpcLoad.Result healthy = load.snapshot();
        for (int i = 0; i < PODS_PER_ZONE; i++) {
          pods.get(i).setLatency(SLOWDOWN);
        }
        ScenarioSupport.awaitFor(Duration.ofSeconds(2));
        load.reset();
        ScenarioSupport.awaitFor(Duration.ofSeconds(3));
        RpcLoad.Result slowed = load.snapshot();
        for (int i = 0; i < PODS_PER_ZONE; i++) {
          pods.get(i).setLatency(Duration.ZERO);
        }
        ScenarioSupport.awaitFor(Duration.ofSeconds(3));
        load.reset();
        ScenarioSupport.awaitFor(Duration.ofSeconds(3));
        RpcLoad.Result recovered = load.snapshot();
        return String.format(
            Locale.ROOT,
            "| %s | %s | %.1f %% | %.2f | %.1f %% | %.2f | %.2f | %.1f %% | %d |%n",
            policy,
            spill ? "on (default)" : "off (static hints)",
            100 * otherZoneShare(pods, healthy),
            ms(healthy.latencyPercentile(0.5)),
            100 * otherZoneShare(pods, slowed),
            ms(slowed.latencyPercentile(0.5)),
            ms(slowed.latencyPercentile(0.99)),
            100 * otherZoneShare(pods, recovered),
            healthy.failures() + slowed.failures() + recovered.failures());
      } finally {
        ScenarioSupport.close(channel);
      }
    }
  }

  /** The share of the RPCs that zone-b's pods served. */
  static double otherZoneShare(LoopbackPods pods, RpcLoad.Result result) {
    long other = 0;
    for (LoopbackPod pod : pods.all().subList(PODS_PER_ZONE, pods.size())) {
      other += result.served(pod.name());
    }
    return result.succeeded() == 0 ? 0 : (double) other / result.succeeded();
  }

  private static double ms(Duration duration) {
    return duration.toNanos() / 1e6;
  }
}
