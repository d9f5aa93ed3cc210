package io.github.kubegrpclb.core;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One endpoint's unary RPCs as {@link ZoneSpill} measures them: in flight now, and completed so
 * far. The endpoint's {@link RpcTracer} feeds it while spill measures: RPCs count from their
 * headers out until they close, as everywhere else.
 *
 * <p>{@link #started} and {@link #finished} run on RPC threads, lock-free; the window field is read
 * and written only by {@link SpillWindow} in the SynchronizationContext.
 */
final class SpillCounter {
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicLong completed = new AtomicLong();
  // SpillWindow's base for the completions of its window; SynchronizationContext only.
  long windowCompletedBase;

  int inFlight() {
    return inFlight.get();
  }

  long completed() {
    return completed.get();
  }

  void started() {
    inFlight.incrementAndGet();
  }

  void finished() {
    completed.incrementAndGet();
    inFlight.decrementAndGet();
  }
}
