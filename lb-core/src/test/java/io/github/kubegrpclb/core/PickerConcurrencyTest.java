package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.github.kubegrpclb.testing.PickArgs;
import io.grpc.LoadBalancer.Subchannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;

/** Pickers and per-endpoint load under many threads at once (the picker is shared by all RPCs). */
class PickerConcurrencyTest {
  private static final int THREADS = 4;

  /** Runs {@code body} on THREADS threads started together; fails on any exception. */
  private static void onThreads(Runnable body) throws InterruptedException {
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    List<Throwable> errors = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      Thread thread =
          new Thread(
              () -> {
                try {
                  start.await();
                  body.run();
                } catch (Throwable e) {
                  synchronized (errors) {
                    errors.add(e);
                  }
                }
              });
      threads.add(thread);
      thread.start();
    }
    start.countDown();
    for (Thread thread : threads) {
      thread.join(TimeUnit.MINUTES.toMillis(1));
    }
    assertThat(errors).isEmpty();
  }

  @Test
  void roundRobinPicker_concurrentPicks_exactlyEvenOverEverySubchannel() throws Exception {
    FakeHelper helper = new FakeHelper();
    List<Subchannel> subchannels = new ArrayList<>();
    helper.run(
        () -> {
          for (int i = 0; i < 8; i++) {
            subchannels.add(
                helper.createSubchannel(
                    io.grpc.LoadBalancer.CreateSubchannelArgs.newBuilder()
                        .setAddresses(EndpointGroups.endpoint(i))
                        .build()));
          }
        });
    KubeRoundRobinPolicy.Picker picker =
        new KubeRoundRobinPolicy.Picker(subchannels, List.of(), null, bound -> 0, 5);
    Map<Subchannel, LongAdder> counts = new ConcurrentHashMap<>();

    onThreads(
        () -> {
          for (int i = 0; i < 100_000; i++) {
            counts
                .computeIfAbsent(
                    picker.pickSubchannel(PickArgs.UNARY).getSubchannel(), s -> new LongAdder())
                .increment();
          }
        });

    assertThat(counts).hasSize(8);
    assertThat(counts.values()).allSatisfy(c -> assertThat(c.sum()).isEqualTo(50_000));
  }

  @Test
  void endpointLoad_concurrentRpcs_inFlightBalancesAndEstimateStaysWithinSamples()
      throws Exception {
    double tau = Duration.ofSeconds(10).toNanos();
    PeakEwmaLoad load = new PeakEwmaLoad(Duration.ofMillis(30).toNanos(), 0);
    FleetLatency fleet = new FleetLatency(1_000_000);
    AtomicInteger clock = new AtomicInteger();

    onThreads(
        () -> {
          for (int i = 0; i < 50_000; i++) {
            long now = clock.incrementAndGet() * 1_000L;
            load.rpcStarted(now);
            long rtt = 1_000_000L + (i % 7) * 100_000L; // 1.0 .. 1.6 ms
            load.observe(rtt, now, fleet.record(rtt, true), tau, fleet);
            load.rpcFinished(now);
          }
        });

    assertThat(load.inFlight()).isZero();
    assertThat(load.estimateNanos(clock.get() * 1_000L, tau, fleet))
        .isBetween(1_000_000.0, 1_600_000.0);
  }
}
