package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.MaxAgePods;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.grpc.CallOptions;
import io.grpc.Context;
import io.grpc.EquivalentAddressGroup;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Outlier ejection under fleet events on a real channel over loopback pods, fail-fast RPCs, each
 * policy with its defaults: a hung pod with deadlines from either source or none, and GOAWAY cycles
 * (max connection age on every pod), which must not count against any pod.
 */
class OutlierEjectionOverLoopbackPodsTest {
  @RegisterExtension final Cleanup cleanup = new Cleanup();

  private ManagedChannel channel(List<EquivalentAddressGroup> groups, String policy) {
    ManagedChannel channel =
        new ManualNameResolverProvider(groups)
            .channelBuilder()
            .defaultServiceConfig(ServiceConfigs.policy(policy))
            .build();
    cleanup.channel(channel);
    return channel;
  }

  /**
   * A hung pod and calls with 200 ms deadlines, made as a server handler makes them (the deadline
   * in the gRPC Context, which grpc-java does not copy into CallOptions) or in CallOptions: the
   * hung pod is ejected after a handful of timed-out calls, not sent a quarter of them forever.
   */
  @ParameterizedTest(name = "{0}, deadline in {1}")
  @CsvSource({
    "kube_round_robin, context",
    "kube_round_robin, callOptions",
    "peak_ewma, context",
    "peak_ewma, callOptions"
  })
  void hungPod_200msDeadlines_fromContextOrCallOptions_ejectedAfterAFewTimeouts(
      String policy, String deadlineSource) throws Exception {
    LoopbackPods pods = LoopbackPods.start(4);
    cleanup.add(pods);
    LoopbackPod hung = pods.get(1);
    ManagedChannel channel = channel(pods.addressGroups(), policy);
    RpcLoad.run(channel, 400, 4, CallOptions.DEFAULT); // every pod connected and measured
    hung.setHung(true);
    long before = hung.calls();

    AtomicInteger failed = new AtomicInteger();
    List<Thread> callers = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      Thread caller =
          new Thread(
              () -> {
                for (int i = 0; i < 150; i++) {
                  if (!call(channel, deadlineSource)) {
                    failed.incrementAndGet();
                  }
                }
              });
      caller.setDaemon(true);
      callers.add(caller);
      caller.start();
    }
    for (Thread caller : callers) {
      caller.join(120_000);
    }

    // Without the Context's deadline, a quarter of 600 calls (kube_round_robin) or about 85
    // (peak_ewma) reached the hung pod, each failing after 200 ms.
    System.out.printf(
        "%s, %s deadline: %d of 600 calls reached the hung pod, %d failed%n",
        policy, deadlineSource, hung.calls() - before, failed.get());
    assertThat(hung.calls() - before)
        .as("calls that reached the hung pod; %s failed", failed.get())
        .isLessThanOrEqualTo(20);
  }

  /** One call with a 200 ms deadline from {@code source}; returns whether it succeeded. */
  private static boolean call(ManagedChannel channel, String source) {
    try {
      if (source.equals("context")) {
        return Context.current()
            .withDeadlineAfter(200, TimeUnit.MILLISECONDS, SCHEDULER)
            .call(() -> PodService.whoami(channel, CallOptions.DEFAULT) != null);
      }
      return PodService.whoami(
              channel, CallOptions.DEFAULT.withDeadlineAfter(200, TimeUnit.MILLISECONDS))
          != null;
    } catch (StatusRuntimeException e) {
      return false;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static final ScheduledExecutorService SCHEDULER =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread thread = new Thread(r, "context-deadlines");
            thread.setDaemon(true);
            return thread;
          });

  /**
   * A hung pod and calls without any deadline (grpc-java's default), started at a steady rate: the
   * hung pod is noticed from how long its calls stay unanswered while its peers answer.
   */
  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void hungPod_noDeadline_under5PercentOfNewCallsAfter5s(String policy) {
    LoopbackPods pods = LoopbackPods.start(4);
    cleanup.add(pods);
    LoopbackPod hung = pods.get(2);
    ManagedChannel channel = channel(pods.addressGroups(), policy);
    RpcLoad.run(channel, 400, 4, CallOptions.DEFAULT);
    ScheduledExecutorService pacer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread thread = new Thread(r, "no-deadline-calls");
              thread.setDaemon(true);
              return thread;
            });
    cleanup.add((AutoCloseable) pacer::shutdownNow);
    AtomicInteger answered = new AtomicInteger();
    hung.setHung(true);
    long hungAt = System.nanoTime();
    pacer.scheduleAtFixedRate(
        () ->
            ClientCalls.asyncUnaryCall(
                channel.newCall(PodService.WHOAMI, CallOptions.DEFAULT),
                "",
                new StreamObserver<String>() {
                  @Override
                  public void onNext(String pod) {
                    answered.incrementAndGet();
                  }

                  @Override
                  public void onError(Throwable t) {}

                  @Override
                  public void onCompleted() {}
                }),
        0,
        2,
        TimeUnit.MILLISECONDS);
    await().atMost(Duration.ofSeconds(20)).until(() -> System.nanoTime() - hungAt > 5e9);
    long hungBefore = hung.calls();
    long answeredBefore = answered.get();
    await().atMost(Duration.ofSeconds(60)).until(() -> answered.get() >= answeredBefore + 3000);
    // Bound: 5 % (0.27 % measured on a quiet machine, 3.8 % once at load 10-20); main: 25 %.

    // Round robin gives it 25 % forever. Each time its probe answers it is back on probation
    // until one of its calls stays unanswered for 10x the fleet's median latency (tens of ms on a
    // loaded machine, so a few calls each time), and out for longer each time.
    long toHung = hung.calls() - hungBefore;
    long total = toHung + answered.get() - answeredBefore;
    System.out.printf(
        "%s, no deadline: %d of %d new calls to the hung pod%n", policy, toHung, total);
    assertThat((double) toHung / total)
        .as("share of new calls to the hung pod: %s of %s", toHung, total)
        .isLessThan(0.05);
  }

  /**
   * Every pod closes its connections every 300 ms (max connection age): grpc-java retries the
   * attempts a GOAWAY refused, transparently. They must not count as failures or latency against
   * the pod, so every pod keeps a fair share.
   */
  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void goAwayEvery300ms_onEveryPod_noPodLosesItsShare(String policy) {
    MaxAgePods pods = MaxAgePods.start(4, Duration.ofMillis(300), Duration.ofSeconds(5));
    cleanup.add(pods);
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    pods.addresses().forEach(address -> groups.add(new EquivalentAddressGroup(address)));
    ManagedChannel channel = channel(groups, policy);

    try (RpcLoad load = RpcLoad.start(channel, 8, CallOptions.DEFAULT)) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.snapshot().succeeded() > 2000);
      load.reset();
      long start = System.nanoTime();
      await().atMost(Duration.ofSeconds(20)).until(() -> System.nanoTime() - start > 5e9);
      RpcLoad.Result result = load.snapshot();

      // Fair is 25 % each; P2C's shares of equal pods wander, so the bound is loose: no pod under
      // a fifth of the busiest one's count (one pod got 160 RPCs against 5,200-8,600 before).
      System.out.printf("%s, GOAWAY every 300 ms: %s%n", policy, result);
      assertThat(result.maxMinRatio(pods.names())).as("%s", result).isLessThan(5);
      assertThat(result.failures()).as("%s", result).isZero();
    }
  }

  /**
   * One of six pods fails 40 % of calls, spread so that five failures in a row never happen (a
   * streak never ejects it): the success-rate check, every second, with a significance test,
   * catches it, and probation keeps it out. Before: checked every 10 s, 6.7 % of all calls failed
   * (its whole share), as with round robin.
   */
  @ParameterizedTest
  @ValueSource(strings = {"kube_round_robin", "peak_ewma"})
  void podFailing40PercentOfCalls_errorsUnder2PercentOfAllCalls(String policy) {
    LoopbackPods pods = LoopbackPods.start(6);
    cleanup.add(pods);
    ManagedChannel channel = channel(pods.addressGroups(), policy);
    RpcLoad.run(channel, 600, 4, CallOptions.DEFAULT);
    pods.get(3).setFailurePercent(40);

    try (RpcLoad load = RpcLoad.start(channel, 8, CallOptions.DEFAULT)) {
      long start = System.nanoTime();
      await().atMost(Duration.ofSeconds(30)).until(() -> System.nanoTime() - start > 8e9);
      RpcLoad.Result result = load.snapshot();
      double errors = (double) result.failures() / (result.failures() + result.succeeded());

      System.out.printf(
          "%s: 40 %% failing pod: %.2f %% errors of %d calls%n",
          policy, 100 * errors, result.failures() + result.succeeded());
      assertThat(errors).as("%s", result).isLessThan(0.02);
    }
  }
}
