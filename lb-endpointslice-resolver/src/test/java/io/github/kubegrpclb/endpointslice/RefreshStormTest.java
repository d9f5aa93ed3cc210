package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.MockKubernetesApi.Pod;
import io.grpc.ChannelLogger;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolver.ConfigOrError;
import io.grpc.NameResolver.ResolutionResult;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.grpc.SynchronizationContext;
import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Item 6 of issue 10: the balancers call {@code refresh()} on every connection that goes IDLE or
 * TRANSIENT_FAILURE, so one network blip with 10,000 endpoints means 10,000 refreshes. With a
 * healthy watch each must cost next to nothing, not a re-map of every slice (about 5 ms each at
 * this size: close to a minute of synchronization-context work).
 */
class RefreshStormTest {
  private static final int SLICES = 100;
  private static final int ENDPOINTS_PER_SLICE = 100;
  private static final int REFRESHES = 10_000;

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  @Test
  void tenThousandRefreshes_healthyWatch_costLessThanTenMapsOfTheSlices() throws Exception {
    MockKubernetesApi api = cleanup.add(new MockKubernetesApi());
    for (int s = 0; s < SLICES; s++) {
      Pod[] endpoints = new Pod[ENDPOINTS_PER_SLICE];
      for (int e = 0; e < ENDPOINTS_PER_SLICE; e++) {
        endpoints[e] = Pod.ready("pod-" + s + "-" + e, "10.1." + s + "." + (e + 1));
      }
      api.apply(slice("my-svc-" + s, Map.of("grpc", 8080), endpoints));
    }
    List<EndpointSlice> slices =
        api.client().discovery().v1().endpointSlices().inNamespace("my-ns").list().getItems();
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    cleanup.add(scheduler::shutdownNow);
    SynchronizationContext syncContext =
        new SynchronizationContext((thread, error) -> error.printStackTrace());
    NameResolver resolver =
        new EndpointSliceNameResolverProvider()
            .newNameResolver(
                URI.create("kubernetes:///my-svc.my-ns:grpc"), args(api, syncContext, scheduler));
    cleanup.add(() -> syncContext.execute(resolver::shutdown));
    List<ResolutionResult> results = new CopyOnWriteArrayList<>();
    syncContext.execute(() -> resolver.start(listener(results)));
    // (A loaded machine may first see "no answer from the API server" for a moment.)
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> endpointsInLastResult(results) == SLICES * ENDPOINTS_PER_SLICE);
    int published = results.size();

    long mapNanos = medianMapNanos(slices);
    CompletableFuture<Long> refreshNanos = new CompletableFuture<>();
    syncContext.execute(
        () -> {
          long start = System.nanoTime();
          for (int i = 0; i < REFRESHES; i++) {
            resolver.refresh();
          }
          refreshNanos.complete(System.nanoTime() - start);
        });
    long refreshTotal = refreshNanos.get(5, TimeUnit.MINUTES);

    System.out.printf(
        "%d endpoints: one map of the slices %.2f ms (baseline); %d refreshes %.2f ms (%.4f maps)%n",
        SLICES * ENDPOINTS_PER_SLICE,
        mapNanos / 1e6,
        REFRESHES,
        refreshTotal / 1e6,
        (double) refreshTotal / mapNanos);
    assertThat(refreshTotal).isLessThan(10 * mapNanos);
    assertThat(results).as("refreshes republish nothing").hasSize(published);
  }

  private static int endpointsInLastResult(List<ResolutionResult> results) {
    if (results.isEmpty()) {
      return -1;
    }
    StatusOr<List<EquivalentAddressGroup>> last =
        results.get(results.size() - 1).getAddressesOrError();
    return last.hasValue() ? last.getValue().size() : -1;
  }

  /** The cost of one re-map, the work every refresh did before: median of 7 after a warm-up. */
  private static long medianMapNanos(List<EndpointSlice> slices) {
    long[] samples = new long[7];
    for (int i = -3; i < samples.length; i++) {
      long start = System.nanoTime();
      EndpointSliceMapper.map(slices, "my-ns/my-svc", "grpc", 0);
      if (i >= 0) {
        samples[i] = System.nanoTime() - start;
      }
    }
    Arrays.sort(samples);
    return samples[samples.length / 2];
  }

  private static NameResolver.Args args(
      MockKubernetesApi api,
      SynchronizationContext syncContext,
      ScheduledExecutorService scheduler) {
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
        .setChannelLogger(
            new ChannelLogger() {
              @Override
              public void log(ChannelLogLevel level, String message) {}

              @Override
              public void log(ChannelLogLevel level, String messageFormat, Object... args) {}
            })
        .setArg(
            EndpointSliceOptions.KEY, EndpointSliceOptions.builder().client(api.client()).build())
        .build();
  }

  private static NameResolver.Listener2 listener(List<ResolutionResult> results) {
    return new NameResolver.Listener2() {
      @Override
      public void onResult(ResolutionResult result) {
        results.add(result);
      }

      @Override
      public Status onResult2(ResolutionResult result) {
        results.add(result);
        return Status.OK;
      }

      @Override
      public void onError(Status error) {
        throw new AssertionError("unexpected error: " + error);
      }
    };
  }
}
