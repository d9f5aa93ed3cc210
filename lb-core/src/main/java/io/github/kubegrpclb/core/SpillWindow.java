package io.github.kubegrpclb.core;

import java.util.Collection;
import java.util.List;
import javax.annotation.Nullable;

/**
 * Zone spill's measurement window ({@link ZoneSpill}): each endpoint's RPC counts ({@link
 * SpillCounter}), kept on the endpoint from the first time spill measures for it (a hint names the
 * client's zone or node), the in-flight samples of the hinted endpoints, and the completions since
 * the window began.
 *
 * <p>Not thread-safe: SynchronizationContext; the counts themselves are updated by RPC threads.
 *
 * @param <T> the policy's per-endpoint state
 */
final class SpillWindow<T> {
  private static final Endpoint.Slot<SpillCounter> COUNTER = Endpoint.Slot.of(SpillCounter.class);
  private long inFlightSamples;
  private int sampleCount;

  /** Gives every endpoint of {@code endpoints} that has none its counts. */
  void count(Collection<Endpoint<T>> endpoints) {
    for (Endpoint<T> endpoint : endpoints) {
      if (endpoint.get(COUNTER) == null) {
        endpoint.set(COUNTER, new SpillCounter());
      }
    }
  }

  /** Where {@code endpoint}'s unary RPCs are counted, or null while they are not. */
  @Nullable
  SpillCounter counter(Endpoint<T> endpoint) {
    return endpoint.get(COUNTER);
  }

  /** Starts a window over {@code hinted} and {@code spilled}. */
  void reset(List<Endpoint<T>> hinted, List<Endpoint<T>> spilled) {
    inFlightSamples = 0;
    sampleCount = 0;
    rebase(hinted);
    rebase(spilled);
  }

  private void rebase(List<Endpoint<T>> endpoints) {
    for (Endpoint<T> endpoint : endpoints) {
      SpillCounter load = endpoint.get(COUNTER);
      if (load != null) {
        load.windowCompletedBase = load.completed();
      }
    }
  }

  /** Adds a sample of the RPCs in flight on {@code hinted}; returns the samples taken. */
  int sample(List<Endpoint<T>> hinted) {
    for (Endpoint<T> endpoint : hinted) {
      SpillCounter load = endpoint.get(COUNTER);
      inFlightSamples += load == null ? 0 : load.inFlight();
    }
    return ++sampleCount;
  }

  /** The mean of the samples (RPCs in flight, summed over the hinted endpoints); starts anew. */
  double meanInFlight() {
    double mean = (double) inFlightSamples / sampleCount;
    inFlightSamples = 0;
    sampleCount = 0;
    return mean;
  }

  /** The RPCs {@code endpoints} completed since the last call (or reset). */
  long completed(List<Endpoint<T>> endpoints) {
    long sum = 0;
    for (Endpoint<T> endpoint : endpoints) {
      SpillCounter load = endpoint.get(COUNTER);
      if (load == null) {
        continue;
      }
      long completed = load.completed();
      sum += completed - load.windowCompletedBase;
      load.windowCompletedBase = completed;
    }
    return sum;
  }
}
