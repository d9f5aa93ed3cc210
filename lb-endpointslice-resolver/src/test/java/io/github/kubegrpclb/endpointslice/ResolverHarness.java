package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.github.kubegrpclb.testing.RecordingChannelLogger;
import io.github.kubegrpclb.testing.RecordingListener;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolver.ConfigOrError;
import io.grpc.NameResolver.ResolutionResult;
import io.grpc.StatusOr;
import io.grpc.SynchronizationContext;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One {@code kubernetes:///} resolver outside a channel, as grpc-java's own resolver tests run
 * theirs: a real SynchronizationContext and scheduler, and a listener that records every result, so
 * a test sees exactly what a channel would be told. Close it to shut the resolver down.
 */
final class ResolverHarness implements AutoCloseable {
  final SynchronizationContext syncContext =
      new SynchronizationContext((thread, error) -> error.printStackTrace());
  private final RecordingListener listener = new RecordingListener();
  final List<ResolutionResult> results = listener.results();
  final RecordingChannelLogger log = new RecordingChannelLogger();
  final NameResolver resolver;
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();

  ResolverHarness(String target, KubernetesClient client) {
    this(
        target,
        new EndpointSliceNameResolverProvider(),
        EndpointSliceOptions.builder().client(client).build());
  }

  /**
   * A resolver of {@code provider} (e.g. one with a test's pod environment) with {@code options}.
   */
  ResolverHarness(
      String target, EndpointSliceNameResolverProvider provider, EndpointSliceOptions options) {
    resolver = provider.newNameResolver(URI.create(target), args(options));
  }

  ResolverHarness start() {
    syncContext.execute(() -> resolver.start(listener));
    return this;
  }

  /** The number of endpoints in the latest result; -1 for none yet or an error. */
  int endpointsInLastResult() {
    if (results.isEmpty()) {
      return -1;
    }
    StatusOr<List<EquivalentAddressGroup>> last =
        results.get(results.size() - 1).getAddressesOrError();
    return last.hasValue() ? last.getValue().size() : -1;
  }

  /**
   * Runs {@code action} in the SynchronizationContext and returns the CPU time it took (thread CPU
   * time: what the work costs, whatever else the machine runs).
   */
  long cpuNanosInSyncContext(Runnable action) throws Exception {
    CompletableFuture<Long> nanos = new CompletableFuture<>();
    syncContext.execute(
        () -> {
          long start = cpuNanos();
          action.run();
          nanos.complete(cpuNanos() - start);
        });
    return nanos.get(5, TimeUnit.MINUTES);
  }

  /** CPU time of the current thread. */
  static long cpuNanos() {
    return ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
  }

  @Override
  public void close() {
    syncContext.execute(resolver::shutdown);
    scheduler.shutdownNow();
  }

  private NameResolver.Args args(EndpointSliceOptions options) {
    return NameResolver.Args.newBuilder()
        .setDefaultPort(443)
        .setProxyDetector(address -> null)
        .setSynchronizationContext(syncContext)
        .setScheduledExecutorService(scheduler)
        .setServiceConfigParser(
            new NameResolver.ServiceConfigParser() {
              @Override
              public ConfigOrError parseServiceConfig(Map<String, ?> rawServiceConfig) {
                return ConfigOrError.fromConfig(rawServiceConfig);
              }
            })
        .setChannelLogger(log)
        .setArg(EndpointSliceOptions.KEY, options)
        .build();
  }
}
