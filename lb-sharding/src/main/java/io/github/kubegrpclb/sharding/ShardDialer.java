package io.github.kubegrpclb.sharding;

import io.grpc.ManagedChannel;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import javax.annotation.Nullable;

/**
 * Dials the shards of a {@link ShardPool} and keeps every channel it dialed until that channel has
 * terminated, so that the pool shuts them all down with it, whether in a slot, replacing one or
 * retiring. It decides nothing about when to dial.
 *
 * <p>Thread-safe: {@link #dial} and {@link #prune} run in the pool's synchronization context; the
 * shutdown and termination methods may run on any thread.
 */
final class ShardDialer {
  private final Supplier<ManagedChannel> dialer;
  @Nullable private final String podIdentityHeader;
  private final BiConsumer<Shard, String> onIdentity;
  private final LongSupplier ticker;
  /* Every channel dialed and not yet seen terminated. */
  private final Set<ManagedChannel> channels = ConcurrentHashMap.newKeySet();

  /**
   * Dials with {@code dialer}; with a {@code podIdentityHeader}, each shard reports the pod its
   * responses name to {@code onIdentity} (on the response's thread).
   */
  ShardDialer(
      Supplier<ManagedChannel> dialer,
      @Nullable String podIdentityHeader,
      BiConsumer<Shard, String> onIdentity,
      LongSupplier ticker) {
    this.dialer = dialer;
    this.podIdentityHeader = podIdentityHeader;
    this.onIdentity = onIdentity;
    this.ticker = ticker;
  }

  /** A new shard for {@code slot}, connecting now rather than on its first call. */
  Shard dial(int slot) {
    ManagedChannel channel = dialer.get();
    channels.add(channel);
    channel.getState(true); // connect now, not on the first call
    return new Shard(slot, channel, ticker.getAsLong(), podIdentityHeader, onIdentity);
  }

  /** Forgets the channels that have terminated. */
  void prune() {
    channels.removeIf(ManagedChannel::isTerminated);
  }

  /** Shuts every channel down: {@code now}, or letting the calls started on it finish. */
  void shutdown(boolean now) {
    for (ManagedChannel channel : channels) {
      if (now) {
        channel.shutdownNow();
      } else {
        channel.shutdown();
      }
    }
  }

  /** Whether every channel has terminated. */
  boolean allTerminated() {
    return channels.stream().allMatch(ManagedChannel::isTerminated);
  }

  /** Waits up to {@code timeout} for every channel to terminate; false if one has not by then. */
  boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    for (ManagedChannel channel : channels) {
      long left = deadline - System.nanoTime();
      if (left <= 0 || !channel.awaitTermination(left, TimeUnit.NANOSECONDS)) {
        return false;
      }
    }
    return true;
  }
}
