package io.github.kubegrpclb.examples;

import io.github.kubegrpclb.core.LbDebug;
import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.endpointslice.EndpointSliceOptions;
import io.github.kubegrpclb.examples.greeter.GreeterGrpc;
import io.github.kubegrpclb.examples.greeter.HelloRequest;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.opentelemetry.exporter.logging.LoggingMetricExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.export.PeriodicMetricReader;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A {@code kubernetes:///} client with metrics: the OpenTelemetry SDK with a logging exporter (swap
 * in the Prometheus or OTLP exporter in production), handed to the resolver and through it to the
 * balancer. Every 10 s the SDK logs every {@code kube_grpc_lb.*} instrument; at the end the client
 * prints {@link LbDebug#snapshot()}.
 *
 * <pre>
 * java -cp ... io.github.kubegrpclb.examples.OpenTelemetryClient kubernetes:///greeter-headless.demo:grpc 1000
 * </pre>
 */
public final class OpenTelemetryClient {
  private OpenTelemetryClient() {}

  public static void main(String[] args) throws InterruptedException {
    String target = args.length > 0 ? args[0] : System.getenv("GREETER_TARGET");
    int calls = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
    OpenTelemetrySdk sdk =
        OpenTelemetrySdk.builder()
            .setMeterProvider(
                SdkMeterProvider.builder()
                    .registerMetricReader(
                        PeriodicMetricReader.builder(LoggingMetricExporter.create())
                            .setInterval(Duration.ofSeconds(10))
                            .build())
                    .build())
            .build();
    ManagedChannel channel =
        ManagedChannelBuilder.forTarget(target)
            .usePlaintext()
            .setNameResolverArg(
                EndpointSliceOptions.KEY,
                EndpointSliceOptions.builder().telemetry(LbTelemetry.create(sdk)).build())
            .build();
    try {
      // Fail-fast calls, as most applications make: a call fails at once when no pod is reachable
      // (it still waits while the channel first connects), and each failure is counted.
      int failed = 0;
      for (int i = 0; i < calls; i++) {
        try {
          GreeterGrpc.newBlockingStub(channel)
              .withDeadlineAfter(5, TimeUnit.SECONDS)
              .sayHello(HelloRequest.newBuilder().setName("otel").build());
        } catch (io.grpc.StatusRuntimeException e) {
          failed++;
        }
      }
      System.out.println(failed + " of " + calls + " calls failed");
      System.out.println(LbDebug.snapshot());
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      sdk.close(); // flushes the last metrics to the log
    }
  }
}
