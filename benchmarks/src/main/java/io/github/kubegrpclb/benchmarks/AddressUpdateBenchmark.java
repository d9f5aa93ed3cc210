package io.github.kubegrpclb.benchmarks;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.grpc.EquivalentAddressGroup;
import java.util.ArrayList;
import java.util.List;
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
 * Cost of an address update where one endpoint changes (a pod replaced), in a Service of 1,000 and
 * of 10,000 endpoints: the balancer diffs the set, shuts one subchannel down, creates one and
 * republishes its picker. Alternates between two sets so every invocation is a real change.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class AddressUpdateBenchmark {
  @Param({"kube_round_robin", "peak_ewma", "round_robin"})
  public String policy;

  @Param({"1000", "10000"})
  public int endpoints;

  private BalancerFixture fixture;
  private List<EquivalentAddressGroup> even;
  private List<EquivalentAddressGroup> odd;
  private boolean flip;

  @Setup(Level.Trial)
  public void setUp() {
    fixture = new BalancerFixture(policy);
    even = EndpointGroups.endpoints(0, endpoints);
    odd = new ArrayList<>(even);
    odd.set(endpoints / 2, EndpointGroups.endpoint(endpoints));
    fixture.readyPicker(even);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fixture.shutdown();
  }

  @Benchmark
  public void oneEndpointChanged() {
    flip = !flip;
    fixture.accept(flip ? odd : even);
  }
}
