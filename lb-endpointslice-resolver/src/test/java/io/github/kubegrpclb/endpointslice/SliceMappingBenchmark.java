package io.github.kubegrpclb.endpointslice;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.grpc.EquivalentAddressGroup;
import io.grpc.StatusOr;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
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
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Cost of turning a Service's EndpointSlices into address groups, the resolver's work on every
 * watch event: 1,000 endpoints in 10 slices and 10,000 endpoints in 100 slices (JMH, with the GC
 * profiler). It lives in the resolver's test tree to reach the package-private mapper, and is not
 * part of the normal test run (the name does not end in Test):
 *
 * <pre>
 * mvn -B -q -pl lb-endpointslice-resolver -am test -Dtest=SliceMappingBenchmark \
 *     -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 *
 * JMH's report goes to {@code lb-endpointslice-resolver/target/slice-mapping-benchmark.txt}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SliceMappingBenchmark {
  @Param({"10", "100"})
  public int slices;

  private List<EndpointSlice> service;

  @Setup(Level.Trial)
  public void setUp() {
    service = new ArrayList<>();
    for (int s = 0; s < slices; s++) {
      EndpointSliceBuilder slice =
          new EndpointSliceBuilder()
              .withNewMetadata()
              .withName("svc-" + s)
              .endMetadata()
              .withAddressType("IPv4")
              .addNewPort()
              .withName("grpc")
              .withPort(50051)
              .endPort();
      for (int e = 0; e < 100; e++) {
        slice
            .addNewEndpoint()
            .withAddresses("10." + (s >> 8) + "." + (s & 255) + "." + e)
            .withZone("zone-" + (e % 3))
            .withNewConditions()
            .withReady(true)
            .endConditions()
            .endEndpoint();
      }
      service.add(slice.build());
    }
  }

  /** Runs this benchmark in a forked JVM (JMH's own harness); surefire only starts it. */
  @Test
  void run() throws RunnerException {
    Collection<RunResult> results =
        new Runner(
                new OptionsBuilder()
                    .include(SliceMappingBenchmark.class.getName())
                    .addProfiler(GCProfiler.class)
                    .output(Path.of("target", "slice-mapping-benchmark.txt").toString())
                    .build())
            .run();
    assertThat(results).hasSize(2);
  }

  @Benchmark
  public StatusOr<List<EquivalentAddressGroup>> map() {
    return EndpointSliceMapper.map(service, "ns/svc", "grpc", 0);
  }
}
