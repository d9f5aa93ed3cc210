package io.github.kubegrpclb.benchmarks;

import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.testing.EndpointGroups;
import io.grpc.LoadBalancer;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
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
 * Cost of one pick: our policies against grpc-java's round_robin and least_request_experimental
 * (grpc-xds), all built through the LoadBalancerRegistry, every endpoint READY, no
 * healthCheckConfig. grpc-services is on this classpath, so the registry's {@code round_robin} is
 * grpc-java's health-checking one (it wraps every pick); {@code round_robin_bare} is grpc-util's,
 * what an application without grpc-services gets. Run with {@code -t 1} and {@code -t 2}, and
 * {@code -prof gc} for bytes allocated per pick.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PickerBenchmark {
  @Param({
    "kube_round_robin",
    "peak_ewma",
    "round_robin",
    BalancerFixture.BARE_ROUND_ROBIN,
    "least_request_experimental"
  })
  public String policy;

  @Param({"3", "100", "1000", "10000"})
  public int endpoints;

  /**
   * {@code off}: no OpenTelemetry; {@code sdk}: a real SDK meter provider with a reader, so that
   * the policies record metrics (the pick itself must cost the same).
   */
  @Param({"off", "sdk"})
  public String telemetry;

  private OpenTelemetrySdk sdk;

  private BalancerFixture fixture;
  private LoadBalancer.SubchannelPicker picker;

  @Setup(Level.Trial)
  public void setUp() {
    fixture = new BalancerFixture(policy);
    if (telemetry.equals("sdk")) {
      sdk =
          OpenTelemetrySdk.builder()
              .setMeterProvider(
                  SdkMeterProvider.builder()
                      .registerMetricReader(InMemoryMetricReader.create())
                      .build())
              .build();
      fixture.withTelemetry(LbTelemetry.create(sdk));
    }
    picker = fixture.readyPicker(EndpointGroups.endpoints(0, endpoints));
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fixture.shutdown();
    if (sdk != null) {
      sdk.close();
    }
  }

  @Benchmark
  public LoadBalancer.PickResult pick() {
    return picker.pickSubchannel(BalancerFixture.Args.INSTANCE);
  }
}
