package io.github.kubegrpclb.sharding;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * Samples, every few milliseconds, which shards of a {@link ShardedChannel} (or which channels) are
 * READY, and measures each outage: the time from a sample that finds a slot's shard not READY to
 * the first sample that finds it READY again. Also samples an extra count (e.g. connections open on
 * the servers).
 *
 * <p>Thread-safe; close it to stop sampling.
 */
final class ShardReadiness implements AutoCloseable {
  private static final long PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
  private static final Duration MAX_RUN = Duration.ofMinutes(3);

  private final Supplier<List<ConnectivityState>> states;
  private final IntSupplier extra;
  private final int threshold;
  private final ScheduledExecutorService sampler =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "shard-readiness");
            t.setDaemon(true);
            return t;
          });
  private final long[] outageStart;
  private final long stopAt = System.nanoTime() + MAX_RUN.toNanos();
  private final List<Long> outages = new ArrayList<>();
  private long samples;
  private long allReady;
  private long lowExtra;
  private long extraAtMostThreshold;
  private int fewestReady = Integer.MAX_VALUE;

  /**
   * Samples the shards of {@code channel}; also counts the samples where {@code extra} is at most
   * {@code threshold}.
   */
  static ShardReadiness of(ShardedChannel channel, IntSupplier extra, int threshold) {
    return new ShardReadiness(
        channel.connections(),
        () -> channel.pool().shards().stream().map(s -> s.channel.getState(false)).toList(),
        extra,
        threshold);
  }

  /** Samples one plain channel, as one shard. */
  static ShardReadiness of(ManagedChannel channel, IntSupplier extra, int threshold) {
    return new ShardReadiness(1, () -> List.of(channel.getState(false)), extra, threshold);
  }

  private ShardReadiness(
      int slots, Supplier<List<ConnectivityState>> states, IntSupplier extra, int threshold) {
    this.states = states;
    this.extra = extra;
    this.threshold = threshold;
    this.outageStart = new long[slots];
    sampler.scheduleAtFixedRate(this::sample, 0, PERIOD_NANOS, TimeUnit.NANOSECONDS);
  }

  private synchronized void sample() {
    long now = System.nanoTime();
    if (now > stopAt) {
      sampler.shutdown();
      return;
    }
    List<ConnectivityState> shards = states.get();
    int ready = 0;
    for (int slot = 0; slot < shards.size(); slot++) {
      if (shards.get(slot) == ConnectivityState.READY) {
        ready++;
        if (outageStart[slot] != 0) {
          outages.add(now - outageStart[slot]);
          outageStart[slot] = 0;
        }
      } else if (outageStart[slot] == 0) {
        outageStart[slot] = now;
      }
    }
    samples++;
    if (ready == shards.size()) {
      allReady++;
    }
    if (extra.getAsInt() <= threshold) {
      extraAtMostThreshold++;
    }
    fewestReady = Math.min(fewestReady, ready);
  }

  /** Share of the samples in which every shard was READY, 0..1. */
  synchronized double allReadyShare() {
    return samples == 0 ? 0 : (double) allReady / samples;
  }

  /** Share of the samples in which the extra count was at most the threshold, 0..1. */
  synchronized double extraAtMostThresholdShare() {
    return samples == 0 ? 0 : (double) extraAtMostThreshold / samples;
  }

  /** Outages that ended so far. */
  synchronized int outages() {
    return outages.size();
  }

  /** The longest outage, ended or still running. */
  synchronized Duration longestOutage() {
    long now = System.nanoTime();
    long longest = outages.stream().mapToLong(Long::longValue).max().orElse(0);
    for (long start : outageStart) {
      if (start != 0) {
        longest = Math.max(longest, now - start);
      }
    }
    return Duration.ofNanos(longest);
  }

  /** Median of the outages that ended. */
  synchronized Duration medianOutage() {
    if (outages.isEmpty()) {
      return Duration.ZERO;
    }
    List<Long> sorted = new ArrayList<>(outages);
    sorted.sort(null);
    return Duration.ofNanos(sorted.get(sorted.size() / 2));
  }

  @Override
  public void close() {
    sampler.shutdownNow();
    try {
      sampler.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public synchronized String toString() {
    return String.format(
        "%d samples: all %d shards READY in %.1f %%, fewest READY %d, extra <= %d in %.1f %%;"
            + " %d outages, median %d ms, longest %d ms",
        samples,
        outageStart.length,
        samples == 0 ? 0 : 100.0 * allReady / samples,
        fewestReady,
        threshold,
        samples == 0 ? 0 : 100.0 * extraAtMostThreshold / samples,
        outages.size(),
        medianOutage().toMillis(),
        longestOutage().toMillis());
  }
}
