package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.EndpointTelemetry;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Zone spill's measurement window ({@link ZoneSpill}): each endpoint's RPC counts ({@link
 * SpillCounter}), created when spill can first matter for it and kept until it leaves, the
 * in-flight samples of the preferred endpoints, and the completions since the window began.
 *
 * <p>Not thread-safe: SynchronizationContext; the counts themselves are updated by RPC threads.
 *
 * @param <T> the policy's per-endpoint state
 */
final class SpillWindow<T> {
  private final Map<Endpoint<T>, SpillCounter> loads = new HashMap<>();
  private long inFlightSamples;
  private int sampleCount;

  /**
   * Where an endpoint's unary RPCs are counted while spill can matter: its {@code telemetry}, with
   * the counts added.
   */
  EndpointTelemetry telemetry(Endpoint<T> endpoint, EndpointTelemetry telemetry) {
    return loads.computeIfAbsent(endpoint, e -> new SpillCounter(telemetry));
  }

  /** The balancer shut {@code endpoint} down: its counts go. */
  void forget(Endpoint<T> endpoint) {
    loads.remove(endpoint);
  }

  /** Starts a window over {@code preferred} and {@code spilled}. */
  void reset(List<Endpoint<T>> preferred, List<Endpoint<T>> spilled) {
    inFlightSamples = 0;
    sampleCount = 0;
    rebase(preferred);
    rebase(spilled);
  }

  private void rebase(List<Endpoint<T>> endpoints) {
    for (Endpoint<T> endpoint : endpoints) {
      SpillCounter load = loads.get(endpoint);
      if (load != null) {
        load.windowCompletedBase = load.completed();
      }
    }
  }

  /** Adds a sample of the RPCs in flight on {@code preferred}; returns the samples taken. */
  int sample(List<Endpoint<T>> preferred) {
    for (Endpoint<T> endpoint : preferred) {
      SpillCounter load = loads.get(endpoint); // null until its results count (the next rebuild)
      inFlightSamples += load == null ? 0 : load.inFlight();
    }
    return ++sampleCount;
  }

  /** The mean of the samples (RPCs in flight, summed over the preferred endpoints); starts anew. */
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
      SpillCounter load = loads.get(endpoint);
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
