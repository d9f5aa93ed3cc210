package io.github.kubegrpclb.core;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The interval rules of outlier ejection ({@link OutlierEjection}): every interval, the success
 * rate of each endpoint against its peers', and its mean latency against the fleet median. It keeps
 * the state of those rules (how many intervals the success-rate window has lasted, the fleet's
 * median latency); the ejection itself, and the panic threshold, are {@link OutlierEjection}'s.
 *
 * <p>Not thread-safe: runs in the channel's SynchronizationContext, called by {@link
 * OutlierEjection}.
 */
final class IntervalRules {
  static final int SLOW_MIN_GAP_MS = 5;
  static final int SLOW_VOLUME = 20;
  private static final double MIN_FAILURE_RATE = 0.01;
  private static final int SUCCESS_RATE_INTERVALS = 10;

  private final Predicate<Endpoint<?>> isEjected;
  private final Predicate<Endpoint<?>> eject;
  private final Function<Endpoint<?>, OutcomeCounts> outcomes;
  private int successRateIntervals; // intervals the success-rate window has lasted
  // The median of the endpoints' mean success latency over the last interval (0: unknown).
  private long fleetLatencyNanos;

  /**
   * @param isEjected whether an endpoint is out already (not counted among its peers)
   * @param eject ejects an endpoint unless the panic threshold forbids; returns whether it did
   */
  IntervalRules(
      Predicate<Endpoint<?>> isEjected,
      Predicate<Endpoint<?>> eject,
      Function<Endpoint<?>, OutcomeCounts> outcomes) {
    this.outcomes = outcomes;
    this.isEjected = isEjected;
    this.eject = eject;
  }

  /** The median of the endpoints' mean success latency over the last interval (0: unknown). */
  long fleetLatencyNanos() {
    return fleetLatencyNanos;
  }

  private boolean isEjected(Endpoint<?> endpoint) {
    return isEjected.test(endpoint);
  }

  /*
   * Success rate, as Envoy and grpc-java: below mean - factor x stdev of the endpoints with enough
   * requests. With short intervals that rule alone ejects noise (3 failures in 100 among peers at
   * 0 or 1 are "below" it), so the endpoint's failure rate must also be significantly above the
   * others' pooled rate p0 (floored at 1 %): z = (rate - p0) / sqrt(p0 (1 - p0) / n) above 3.
   */
  void ejectBySuccessRate(OutlierEjectionConfig config, Endpoint<?>[] all, List<Endpoint<?>> out) {
    long[][] counts = new long[all.length][];
    int withVolume = 0;
    for (int i = 0; i < all.length; i++) {
      counts[i] = outcomes.apply(all[i]).successRateWindow(false);
      withVolume +=
          !isEjected(all[i]) && counts[i][0] + counts[i][1] >= config.requestVolume ? 1 : 0;
    }
    // Under low traffic the window spans several intervals, until enough endpoints have the
    // request volume (at most SUCCESS_RATE_INTERVALS, then it starts again).
    if (withVolume < config.minimumHosts && ++successRateIntervals < SUCCESS_RATE_INTERVALS) {
      return;
    }
    successRateIntervals = 0;
    for (int i = 0; i < all.length; i++) {
      counts[i] = outcomes.apply(all[i]).successRateWindow(true);
    }
    double sum = 0;
    double sumSquares = 0;
    int hosts = 0;
    long totalRequests = 0;
    long totalFailures = 0;
    for (int i = 0; i < all.length; i++) {
      long total = counts[i][0] + counts[i][1];
      if (!isEjected(all[i]) && total >= config.requestVolume) {
        double rate = (double) counts[i][0] / total;
        sum += rate;
        sumSquares += rate * rate;
        hosts++;
        totalRequests += total;
        totalFailures += counts[i][1];
      }
    }
    if (hosts < config.minimumHosts) {
      return;
    }
    double mean = sum / hosts;
    double stdev = Math.sqrt(Math.max(0, sumSquares / hosts - mean * mean));
    double threshold = mean - config.stdevFactor * stdev;
    for (int i = 0; i < all.length; i++) {
      long total = counts[i][0] + counts[i][1];
      if (isEjected(all[i]) || total < config.requestVolume) {
        continue;
      }
      double rate = (double) counts[i][0] / total;
      double others =
          totalRequests == total
              ? 0
              : (double) (totalFailures - counts[i][1]) / (totalRequests - total);
      double p0 = Math.max(MIN_FAILURE_RATE, others);
      double z = ((1 - rate) - p0) / Math.sqrt(p0 * (1 - p0) / total);
      if (rate < threshold && z > 3 && eject.test(all[i])) {
        out.add(all[i]);
      }
    }
  }

  /*
   * Latency, as the closest Java peer (grpc-peak-ewma-lb) ejects a pod 2.5x slower than the fleet
   * median: each endpoint's mean success latency over the interval against the median of those
   * means. The median also sets how long a silence must last (checkSilence).
   */
  void ejectByLatency(
      OutlierEjectionConfig config, Endpoint<?>[] all, long[][] counts, List<Endpoint<?>> out) {
    long[] means = new long[all.length];
    int answering = 0;
    int measured = 0;
    for (int i = 0; i < all.length; i++) {
      if (!isEjected(all[i]) && counts[i][0] > 0) {
        means[answering++] = counts[i][2] / counts[i][0];
        measured += counts[i][0] >= SLOW_VOLUME ? 1 : 0;
      }
    }
    if (answering == 0) {
      return; // keep the last known fleet latency
    }
    Arrays.sort(means, 0, answering);
    fleetLatencyNanos = means[answering / 2];
    if (config.slowFactor <= 0 || measured < config.minimumHosts) {
      return;
    }
    long[] sorted = new long[measured];
    int k = 0;
    for (int i = 0; i < all.length; i++) {
      if (!isEjected(all[i]) && counts[i][0] >= SLOW_VOLUME) {
        sorted[k++] = counts[i][2] / counts[i][0];
      }
    }
    Arrays.sort(sorted);
    long median = sorted[measured / 2];
    long gap = TimeUnit.MILLISECONDS.toNanos(SLOW_MIN_GAP_MS);
    for (int i = 0; i < all.length; i++) {
      if (isEjected(all[i]) || counts[i][0] < SLOW_VOLUME) {
        continue;
      }
      long mean = counts[i][2] / counts[i][0];
      if (mean > config.slowFactor * median && mean - median >= gap && eject.test(all[i])) {
        // Re-admission takes a probe's answer, which a slow pod gives: its probation must also
        // see its RPCs answered faster than what ejected it, or it is back for a whole interval.
        outcomes
            .apply(all[i])
            .ejectedForLatency(Math.max((long) (config.slowFactor * median), median + gap));
        out.add(all[i]);
      }
    }
  }
}
