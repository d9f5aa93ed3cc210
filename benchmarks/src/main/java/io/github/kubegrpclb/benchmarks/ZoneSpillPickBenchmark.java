package io.github.kubegrpclb.benchmarks;

import io.github.kubegrpclb.core.EndpointAttributes;
import io.github.kubegrpclb.core.EndpointCondition;
import io.github.kubegrpclb.testing.EndpointGroups;
import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of one pick with zone hints: the client in zone-a, half the endpoints hinted for zone-a and
 * half for zone-b, every endpoint READY, so the rotation is zone-a's half. With zone spill on (the
 * default) unary picks carry a counting tracer built in advance; off, static hints. The pick itself
 * must cost the same. Run with {@code -prof gc} for bytes per pick.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ZoneSpillPickBenchmark {
  @Param({"kube_round_robin", "peak_ewma"})
  public String policy;

  @Param({"6", "2000"})
  public int endpoints;

  @Param({"on", "off"})
  public String zoneSpill;

  private BalancerFixture fixture;
  private LoadBalancer.SubchannelPicker picker;

  @Setup(Level.Trial)
  public void setUp() {
    Map<String, ?> options =
        zoneSpill.equals("on") ? Map.of() : Map.of("zoneSpill", Map.of("enabled", false));
    Object config =
        LoadBalancerRegistry.getDefaultRegistry()
            .getProvider(policy)
            .parseLoadBalancingPolicyConfig(options)
            .getConfig();
    fixture =
        new BalancerFixture(policy, config)
            .withResolutionAttributes(
                Attributes.newBuilder().set(EndpointAttributes.CLIENT_ZONE, "zone-a").build());
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    for (EquivalentAddressGroup group : EndpointGroups.endpoints(0, endpoints)) {
      String zone = groups.size() % 2 == 0 ? "zone-a" : "zone-b";
      groups.add(
          new EquivalentAddressGroup(
              group.getAddresses(),
              EndpointAttributes.of(EndpointCondition.READY, zone, Set.of(zone))));
    }
    picker = fixture.readyPicker(groups);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fixture.shutdown();
  }

  @Benchmark
  public LoadBalancer.PickResult pick() {
    return picker.pickSubchannel(BalancerFixture.Args.INSTANCE);
  }
}
