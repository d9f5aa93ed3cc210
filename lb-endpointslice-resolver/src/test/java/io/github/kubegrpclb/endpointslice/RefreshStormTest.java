package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.MockKubernetesApi.Pod;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Item 6 of issue 10: the balancers call {@code refresh()} on every connection that goes IDLE or
 * TRANSIENT_FAILURE, so one network blip with 10,000 endpoints means 10,000 refreshes. With a
 * healthy watch each must cost next to nothing, not a re-map of every slice.
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
    ResolverHarness harness =
        cleanup.add(new ResolverHarness("kubernetes:///my-svc.my-ns:grpc", api.client())).start();
    // (A loaded machine may first see "no answer from the API server" for a moment.)
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> harness.endpointsInLastResult() == SLICES * ENDPOINTS_PER_SLICE);
    int published = harness.results.size();

    long mapNanos = medianMapNanos(slices);
    long refreshNanos =
        harness.cpuNanosInSyncContext(
            () -> {
              for (int i = 0; i < REFRESHES; i++) {
                harness.resolver.refresh();
              }
            });

    System.out.printf(
        "%d endpoints, CPU time: one map of the slices %.2f ms (baseline); %d refreshes %.2f ms"
            + " (%.4f maps)%n",
        SLICES * ENDPOINTS_PER_SLICE,
        mapNanos / 1e6,
        REFRESHES,
        refreshNanos / 1e6,
        (double) refreshNanos / mapNanos);
    assertThat(refreshNanos).isLessThan(10 * mapNanos);
    assertThat(harness.results).as("refreshes republish nothing").hasSize(published);
  }

  /** The CPU time of one re-map, the work every refresh did before: median of 7 after a warm-up. */
  private static long medianMapNanos(List<EndpointSlice> slices) {
    long[] samples = new long[7];
    for (int i = -3; i < samples.length; i++) {
      long start = ResolverHarness.cpuNanos();
      EndpointSliceMapper.map(slices, "my-ns/my-svc", "grpc", 0);
      if (i >= 0) {
        samples[i] = ResolverHarness.cpuNanos() - start;
      }
    }
    Arrays.sort(samples);
    return samples[samples.length / 2];
  }
}
