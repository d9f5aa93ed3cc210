package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.grpc.EquivalentAddressGroup;
import io.grpc.StatusOr;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of turning a Service's EndpointSlices into address groups, the resolver's work on every
 * watch event: 1,000 endpoints in 10 slices and 10,000 endpoints in 100 slices. Lives in the
 * resolver's package to reach its package-private mapper.
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

  @Benchmark
  public StatusOr<List<EquivalentAddressGroup>> map() {
    return EndpointSliceMapper.map(service, "ns/svc", "grpc", 0);
  }
}
