package io.github.kubegrpclb.core;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The time of the channel's latest RPC event, so that a picker can reason about time without a
 * clock read per pick (a {@code System.nanoTime()} call would double the cost of a pick). RPC
 * starts and ends {@linkplain #tick() read the real clock}; {@link #read()} returns the latest of
 * those readings, which lags the real time by at most the gap between two RPC events.
 *
 * <p>Thread-safe: one atomic long, written with release semantics by whichever thread ticks.
 */
final class RecentClock {
  private final LongSupplier source;
  private final AtomicLong latest;

  RecentClock(LongSupplier source) {
    this.source = source;
    this.latest = new AtomicLong(source.getAsLong());
  }

  /** Reads the real clock, remembers the reading and returns it. */
  long tick() {
    long now = source.getAsLong();
    latest.lazySet(now);
    return now;
  }

  /** The latest reading; never reads the real clock. */
  long read() {
    return latest.get();
  }
}
