package io.github.kubegrpclb.core;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Counts the long-lived streams of one balancer that closed without the balancer asking (finished,
 * failed, cut by a server): the application is likely to open them again, so a rebalancing round
 * counts them as re-opening on the emptiest endpoints. A call shorter than one rebalancing interval
 * is not counted: it is not a long-lived stream, and a steady flow of short streaming calls would
 * otherwise look like re-opens that never come. Thread-safe: streams close on any thread.
 */
final class NaturalCloses {
  private final AtomicLong count = new AtomicLong();
  private final LongSupplier nanoClock;
  private volatile long minLifetimeNanos;

  NaturalCloses(LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
  }

  /** Streams open at least this long count when they close; the rebalancing interval. */
  void minLifetime(long nanos) {
    minLifetimeNanos = nanos;
  }

  long now() {
    return nanoClock.getAsLong();
  }

  /** A stream opened at {@code openedAtNanos} closed on its own. */
  void closed(long openedAtNanos) {
    if (nanoClock.getAsLong() - openedAtNanos >= minLifetimeNanos) {
      count.incrementAndGet();
    }
  }

  long count() {
    return count.get();
  }
}
