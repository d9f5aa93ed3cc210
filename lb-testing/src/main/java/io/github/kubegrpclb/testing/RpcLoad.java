package io.github.kubegrpclb.testing;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.awaitility.Awaitility;

/**
 * Drives {@link PodService#WHOAMI} calls through a channel from a few threads and records which pod
 * served each call, the failures and the latencies. Either a fixed number of calls ({@link #run}),
 * a background load until closed ({@link #start}), or calls at a fixed rate ({@link #startPaced}).
 * Every loop is bounded in calls and time.
 *
 * <p>Thread-safe.
 */
public final class RpcLoad implements AutoCloseable {
  /** Deadline of each call. */
  public static final Duration CALL_DEADLINE = Duration.ofSeconds(10);

  private static final Duration MAX_RUN = Duration.ofMinutes(5);
  private static final int MAX_LATENCIES = 1_000_000;

  private final Channel channel;
  private final CallOptions options;
  private final Duration deadline;
  private final Map<String, LongAdder> perPod = new ConcurrentHashMap<>();
  private final LongAdder failures = new LongAdder();
  private final List<Status> failureSamples = Collections.synchronizedList(new ArrayList<>());
  private final long[] latencies = new long[MAX_LATENCIES];
  private final AtomicLong latencyCount = new AtomicLong();
  private final AtomicLong remaining;
  private final AtomicBoolean stopped = new AtomicBoolean();
  private final List<Thread> threads = new ArrayList<>();

  private RpcLoad(Channel channel, CallOptions options, long calls) {
    this(channel, options, calls, CALL_DEADLINE);
  }

  private RpcLoad(Channel channel, CallOptions options, long calls, Duration deadline) {
    this.channel = channel;
    this.deadline = deadline;
    if (options.getDeadline() != null) {
      throw new IllegalArgumentException(
          "options: " + options + " (expected: no deadline; RpcLoad sets one per call)");
    }
    this.options = options;
    this.remaining = new AtomicLong(calls);
  }

  /** Makes {@code calls} calls from {@code threads} threads and returns what happened. */
  public static Result run(Channel channel, int calls, int threads, CallOptions options) {
    RpcLoad load = new RpcLoad(channel, options, calls);
    load.startThreads(threads);
    load.join();
    return load.snapshot();
  }

  /** Makes calls from {@code threads} threads until {@link #close} (or five minutes). */
  public static RpcLoad start(Channel channel, int threads, CallOptions options) {
    RpcLoad load = new RpcLoad(channel, options, Long.MAX_VALUE);
    load.startThreads(threads);
    return load;
  }

  /**
   * Makes calls from {@code threads} threads until {@link #close} (or five minutes), each with
   * {@code deadline} instead of {@link #CALL_DEADLINE}.
   */
  public static RpcLoad start(
      Channel channel, int threads, CallOptions options, Duration deadline) {
    RpcLoad load = new RpcLoad(channel, options, Long.MAX_VALUE, deadline);
    load.startThreads(threads);
    return load;
  }

  /**
   * Starts {@code perSecond} calls a second, each asynchronous, until {@link #close} (or five
   * minutes): an open loop, as a service called by its own users sees it, so a slow pod does not
   * slow the arrivals and its calls pile up in flight.
   */
  public static RpcLoad startPaced(Channel channel, int perSecond, CallOptions options) {
    if (perSecond < 1 || perSecond > 100_000) {
      throw new IllegalArgumentException(
          "perSecond: " + perSecond + " (expected: an integer in [1, 100000])");
    }
    RpcLoad load = new RpcLoad(channel, options, Long.MAX_VALUE);
    long deadline = System.nanoTime() + MAX_RUN.toNanos();
    Thread thread = new Thread(() -> load.pace(perSecond, deadline), "rpc-load-paced");
    thread.setDaemon(true);
    load.threads.add(thread);
    thread.start();
    return load;
  }

  private void pace(int perSecond, long deadlineNanos) {
    long period = 1_000_000_000L / perSecond;
    long next = System.nanoTime();
    while (!stopped.get() && System.nanoTime() < deadlineNanos) {
      long wait = next - System.nanoTime();
      if (wait > 0) {
        LockSupport.parkNanos(wait); // pacing the arrivals, not waiting for a state
        continue;
      }
      next += period;
      long start = System.nanoTime();
      ClientCalls.asyncUnaryCall(
          channel.newCall(
              PodService.WHOAMI,
              options.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS)),
          "",
          new StreamObserver<String>() {
            @Override
            public void onNext(String pod) {
              served(pod, start);
            }

            @Override
            public void onError(Throwable t) {
              failed(Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {}
          });
    }
  }

  private void served(String pod, long startNanos) {
    perPod.computeIfAbsent(pod, p -> new LongAdder()).increment();
    long index = latencyCount.getAndIncrement();
    if (index < MAX_LATENCIES) {
      latencies[(int) index] = System.nanoTime() - startNanos;
    }
  }

  private void failed(Status status) {
    failures.increment();
    if (failureSamples.size() < 20) {
      failureSamples.add(status);
    }
  }

  /** What happened so far. */
  public Result snapshot() {
    Map<String, Long> counts = new TreeMap<>();
    perPod.forEach((pod, count) -> counts.put(pod, count.sum()));
    int n = (int) Math.min(latencyCount.get(), MAX_LATENCIES);
    long[] copy = Arrays.copyOf(latencies, n);
    return new Result(counts, failures.sum(), List.copyOf(failureSamples), copy);
  }

  /** Zeroes the counters (calls in flight may still land in the next snapshot). */
  public void reset() {
    perPod.clear();
    failures.reset();
    failureSamples.clear();
    latencyCount.set(0);
  }

  /**
   * Waits until {@code window} calls in a row succeeded without reaching {@code pod}, checking
   * window after window for at most {@code timeout}; throws if that never happens.
   */
  public void awaitNoTrafficTo(LoopbackPod pod, int window, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      long before = pod.served();
      long target = snapshot().succeeded() + window;
      Awaitility.await("" + window + " more calls")
          .atMost(timeout)
          .pollInterval(Duration.ofMillis(5))
          .until(() -> snapshot().succeeded() >= target);
      if (pod.served() == before) {
        return;
      }
    }
    throw new AssertionError(pod + " still got calls after " + timeout + ": " + snapshot());
  }

  /** Stops the load and waits for the threads to finish their current call. */
  @Override
  public void close() {
    stopped.set(true);
    join();
  }

  private void startThreads(int count) {
    long deadline = System.nanoTime() + MAX_RUN.toNanos();
    for (int i = 0; i < count; i++) {
      Thread thread = new Thread(() -> loop(deadline), "rpc-load-" + i);
      thread.setDaemon(true);
      threads.add(thread);
      thread.start();
    }
  }

  private void loop(long deadlineNanos) {
    while (!stopped.get() && System.nanoTime() < deadlineNanos && remaining.getAndDecrement() > 0) {
      long start = System.nanoTime();
      try {
        String pod =
            PodService.whoami(
                channel, options.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS));
        served(pod, start);
      } catch (StatusRuntimeException e) {
        failed(e.getStatus());
      }
    }
  }

  private void join() {
    for (Thread thread : threads) {
      try {
        thread.join(MAX_RUN.toMillis() + 60_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** Calls per pod, failures and latencies of a load run. Immutable. */
  public static final class Result {
    private final Map<String, Long> perPod;
    private final long failures;
    private final List<Status> failureSamples;
    private final long[] sortedLatencies;

    Result(Map<String, Long> perPod, long failures, List<Status> samples, long[] latencies) {
      this.perPod = Collections.unmodifiableMap(perPod);
      this.failures = failures;
      this.failureSamples = samples;
      this.sortedLatencies = latencies;
      Arrays.sort(sortedLatencies);
    }

    /** Successful calls per pod name, sorted by name. */
    public Map<String, Long> perPod() {
      return perPod;
    }

    public long served(String pod) {
      return perPod.getOrDefault(pod, 0L);
    }

    public long succeeded() {
      return perPod.values().stream().mapToLong(Long::longValue).sum();
    }

    public long failures() {
      return failures;
    }

    /** Up to 20 of the failure statuses, for assertion messages. */
    public List<Status> failureSamples() {
      return failureSamples;
    }

    /** Share of successful calls served by {@code pod}, 0..1. */
    public double share(String pod) {
      long total = succeeded();
      return total == 0 ? 0 : (double) served(pod) / total;
    }

    /** Highest per-pod count divided by the lowest, over {@code pods} (missing pods count 0). */
    public double maxMinRatio(List<String> pods) {
      long max = 0;
      long min = Long.MAX_VALUE;
      for (String pod : pods) {
        long count = served(pod);
        max = Math.max(max, count);
        min = Math.min(min, count);
      }
      return min == 0 ? Double.POSITIVE_INFINITY : (double) max / min;
    }

    /** Latency percentile, {@code q} in [0, 1]. */
    public Duration latencyPercentile(double q) {
      if (sortedLatencies.length == 0) {
        return Duration.ZERO;
      }
      int index = (int) Math.min(sortedLatencies.length - 1, Math.ceil(q * sortedLatencies.length));
      return Duration.ofNanos(sortedLatencies[Math.max(0, index - 1)]);
    }

    @Override
    public String toString() {
      return "perPod=" + perPod + " failures=" + failures + " " + failureSamples;
    }
  }
}
