package io.github.kubegrpclb.endpointslice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.github.kubegrpclb.testing.Cleanup;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.time.Duration;

/** What the resolver's end-to-end tests set up alike. Stateless. */
final class ResolverFixtures {
  /** The Service every end-to-end test resolves: my-svc in my-ns, port named grpc. */
  static final String TARGET = "kubernetes:///my-svc.my-ns:grpc";

  private ResolverFixtures() {}

  /**
   * Checks, after the test, that no shared watch is left open once every channel is closed. Call it
   * before anything else is added to {@code cleanup}, so that it runs last; channels release their
   * watch asynchronously, so it waits up to 10 s.
   */
  static void checkNoWatchLeft(Cleanup cleanup) {
    cleanup.add(
        () ->
            await()
                .atMost(Duration.ofSeconds(10))
                .untilAsserted(() -> assertThat(ServiceWatches.SHARED.activeWatches()).isZero()));
  }

  /** A plaintext channel to {@link #TARGET} watching through {@code client}, closed by cleanup. */
  static ManagedChannel channel(Cleanup cleanup, KubernetesClient client) {
    return cleanup.channel(
        Grpc.newChannelBuilder(TARGET, InsecureChannelCredentials.create())
            .setNameResolverArg(
                EndpointSliceOptions.KEY, EndpointSliceOptions.builder().client(client).build())
            .build());
  }
}
