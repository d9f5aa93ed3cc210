package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A released watch is kept for its grace on an injected clock, taken over without a new LIST by a
 * channel that comes back within it, and stopped after it. Mock API server in CRUD mode.
 */
class ServiceWatchesGraceTest {
  private static final Duration GRACE = Duration.ofMinutes(5);

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private final FakeClock clock = new FakeClock();
  private final ServiceWatches watches = new ServiceWatches(clock.scheduler(), () -> 0.5);
  private MockKubernetesApi api;

  @BeforeEach
  void start() {
    api = cleanup.add(new MockKubernetesApi());
    api.apply(slice("my-svc-a", Map.of("grpc", 8080), ready("pod-0", "10.0.0.1")));
  }

  private ServiceWatches.Subscription subscribe(Duration grace) {
    ServiceWatches.Subscription subscription =
        watches.subscribe(api.client(), "my-ns", "my-svc", grace, () -> {});
    cleanup.add(subscription);
    return subscription;
  }

  private long sliceLists() {
    return api.requests().stream().filter(MockKubernetesApi.Request::sliceList).count();
  }

  @Test
  void lastSubscriptionClosed_watchKeptForTheGrace_takenOverWithoutAList() {
    ServiceWatches.Subscription first = subscribe(GRACE);
    await().atMost(Duration.ofSeconds(10)).until(first::synced);
    assertThat(sliceLists()).isEqualTo(1);

    first.close();
    assertThat(watches.activeWatches()).isZero();
    assertThat(watches.keptWatches()).isEqualTo(1);
    clock.forward(GRACE.minusSeconds(1));
    assertThat(watches.watching(api.client(), "my-ns", "my-svc")).isTrue();

    ServiceWatches.Subscription next = subscribe(GRACE);

    assertThat(next.synced()).as("the kept watch, synced already").isTrue();
    assertThat(next.slices()).hasSize(1);
    assertThat(watches.activeWatches()).isEqualTo(1);
    clock.forward(GRACE); // the first grace's timer was cancelled by the take-over
    assertThat(watches.watching(api.client(), "my-ns", "my-svc")).isTrue();
    assertThat(sliceLists()).as("no LIST for a kept watch").isEqualTo(1);
  }

  @Test
  void keptWatch_graceOver_stopped_nextSubscriptionListsAgain() {
    ServiceWatches.Subscription first = subscribe(GRACE);
    await().atMost(Duration.ofSeconds(10)).until(first::synced);
    first.close();

    clock.forward(GRACE);

    assertThat(watches.watching(api.client(), "my-ns", "my-svc")).isFalse();
    assertThat(clock.pendingTasks()).isZero();
    ServiceWatches.Subscription next = subscribe(GRACE);
    await().atMost(Duration.ofSeconds(10)).until(next::synced);
    assertThat(sliceLists()).isEqualTo(2);
  }

  @Test
  void zeroGrace_watchStoppedWithTheLastSubscription() {
    ServiceWatches.Subscription only = subscribe(Duration.ZERO);
    await().atMost(Duration.ofSeconds(10)).until(only::synced);

    only.close();

    assertThat(watches.watching(api.client(), "my-ns", "my-svc")).isFalse();
    assertThat(clock.pendingTasks()).isZero();
  }

  @Test
  void keptWatch_clientClosedMeanwhile_stoppedWithinTheCheckPeriod() {
    ServiceWatches.Subscription only = subscribe(GRACE);
    await().atMost(Duration.ofSeconds(10)).until(only::synced);
    only.close();
    assertThat(watches.keptWatches()).isEqualTo(1);

    api.client().close();
    clock.forward(ServiceWatches.CLOSED_CHECK);

    assertThat(watches.watching(api.client(), "my-ns", "my-svc")).isFalse();
    assertThat(clock.pendingTasks()).isZero();
  }

  @Test
  void clientClosed_releasedWatchStoppedAtOnce() {
    ServiceWatches.Subscription only = subscribe(GRACE);
    await().atMost(Duration.ofSeconds(10)).until(only::synced);
    api.client().close();

    only.close();

    assertThat(watches.watching(api.client(), "my-ns", "my-svc")).isFalse();
  }
}
