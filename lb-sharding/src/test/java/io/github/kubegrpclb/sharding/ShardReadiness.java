package io.github.kubegrpclb.sharding;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

  private final IntSupplier extra;
  private final int threshold;
  private final ScheduledExecutorService sampler =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "shard-readiness");
            t.setDaemon(true);
            return t;
          });
  private final Supplier<List<ManagedChannel>> channels;
  private final Set<ManagedChannel> watched = new HashSet<>();
  private final Map<Integer, Long> outageStart = new HashMap<>(); // slot -> start of its outage
  private volatile boolean closed;
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
        () -> channel.pool().shards().stream().map(s -> s.channel).toList(), extra, threshold);
  }

  /** Samples one plain channel, as one shard. */
  static ShardReadiness of(ManagedChannel channel, IntSupplier extra, int threshold) {
    return new ShardReadiness(() -> List.of(channel), extra, threshold);
  }

  private ShardReadiness(
      Supplier<List<ManagedChannel>> channels, IntSupplier extra, int threshold) {
    this.channels = channels;
    this.extra = extra;
    this.threshold = threshold;
    sampler.scheduleAtFixedRate(this::sample, 0, PERIOD_NANOS, TimeUnit.NANOSECONDS);
  }

  /* Runs on the channel's executor at each of its state changes, until it leaves its slot; the
   * slot's outage then ends when its next channel is seen READY. */
  private void watch(ManagedChannel channel) {
    ConnectivityState state = channel.getState(false);
    long now = System.nanoTime();
    synchronized (this) {
      int slot = channels.get().indexOf(channel);
      if (closed || slot < 0) {
        watched.remove(channel);
        return;
      }
      long start = outageStart.getOrDefault(slot, 0L);
      if (state == ConnectivityState.READY) {
        if (start != 0) {
          outages.add(now - start);
          outageStart.put(slot, 0L);
        }
      } else if (start == 0) {
        outageStart.put(slot, now);
      }
    }
    channel.notifyWhenStateChanged(state, () -> watch(channel));
  }

  private void sample() {
    long now = System.nanoTime();
    if (now > stopAt) {
      sampler.shutdown();
      return;
    }
    List<ManagedChannel> current = channels.get();
    int ready = 0;
    for (ManagedChannel channel : current) {
      boolean fresh;
      synchronized (this) {
        fresh = watched.add(channel);
      }
      if (fresh) {
        watch(channel);
      }
      if (channel.getState(false) == ConnectivityState.READY) {
        ready++;
      }
    }
    synchronized (this) {
      samples++;
      if (ready == current.size()) {
        allReady++;
      }
      if (extra.getAsInt() <= threshold) {
        extraAtMostThreshold++;
      }
      fewestReady = Math.min(fewestReady, ready);
    }
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
    for (long start : outageStart.values()) {
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
    closed = true;
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
        "%d samples: every shard READY in %.1f %%, fewest READY %d, extra <= %d in %.1f %%;"
            + " %d outages, median %d ms, longest %d ms",
        samples,
        samples == 0 ? 0 : 100.0 * allReady / samples,
        fewestReady,
        threshold,
        samples == 0 ? 0 : 100.0 * extraAtMostThreshold / samples,
        outages.size(),
        medianOutage().toMillis(),
        longestOutage().toMillis());
  }
}
