package io.github.kubegrpclb.core;

import java.util.function.IntUnaryOperator;

/**
 * How many streams to end on each endpoint so that the streams, re-opened on the emptiest
 * endpoints, come within a tolerance of the fair share. Pure functions (the jitter draws from the
 * caller's randomness); thread-safe.
 */
/*
 * With total T streams over n endpoints the fair share is f = T / n. An endpoint is within the
 * band when its count c satisfies lo <= c <= hi, hi = max(ceil(f), floor(f (1 + tolerance))) and
 * lo = min(floor(f), ceil(f (1 - tolerance))): the ceil and floor keep small counts (10 streams on
 * 8 endpoints) from ever looking unbalanced. Each ended stream re-opens on the endpoint with the
 * fewest (the placement rule), so one move lowers the excess above hi and the deficit below lo by
 * one each while both are positive: the fewest moves that reach the band is max(excess, deficit).
 * The moves are taken one at a time from the endpoint with the most streams left, never below f.
 */
final class RebalancePlan {
  private RebalancePlan() {}

  /**
   * One round's plan: how many streams to end on each endpoint, given the streams staying on each
   * ({@code counts}) and those that closed on their own lately and are re-opening. The re-opening
   * ones are placed first as the picker would ({@link #withReopened}); the round ends the {@link
   * #needed} moves of that, at most {@code budget}, less a random share of up to {@code jitter}
   * ({@link #jittered}), never more on an endpoint than it has.
   *
   * @param random returns a uniform int in {@code [0, bound)}
   */
  static int[] round(
      int[] counts,
      int reopening,
      double tolerance,
      int budget,
      double jitter,
      IntUnaryOperator random) {
    int[] expected = withReopened(counts, reopening);
    int planned = Math.min(needed(expected, tolerance), budget);
    int[] ends = ends(expected, tolerance, jittered(planned, jitter, random));
    for (int i = 0; i < ends.length; i++) {
      ends[i] = Math.min(ends[i], counts[i]);
    }
    return ends;
  }

  /**
   * A round's number of streams to end: {@code planned} less a uniform draw of up to {@code jitter}
   * of it, at least one. Never more than planned: what a round leaves, a later round moves, so the
   * total stays the minimum.
   */
  static int jittered(int planned, double jitter, IntUnaryOperator random) {
    if (planned <= 1 || jitter == 0) {
      return planned;
    }
    int fewest = Math.max(1, (int) Math.ceil(planned * (1 - jitter) - 1e-9));
    return planned - random.applyAsInt(planned - fewest + 1);
  }

  /**
   * Returns {@code counts} with {@code reopening} more streams placed as the picker places them,
   * each on an endpoint with the fewest (water-filling: the lowest counts rise to a common level).
   */
  static int[] withReopened(int[] counts, int reopening) {
    int[] out = counts.clone();
    if (reopening <= 0 || out.length == 0) {
      return out;
    }
    int min = Integer.MAX_VALUE;
    for (int c : counts) {
      min = Math.min(min, c);
    }
    // The highest level the lowest counts can all reach with the streams at hand.
    long low = min;
    long high = (long) min + reopening;
    while (low < high) {
      long mid = (low + high + 1) >>> 1;
      if (raise(counts, mid) <= reopening) {
        low = mid;
      } else {
        high = mid - 1;
      }
    }
    long left = reopening - raise(counts, low);
    for (int i = 0; i < out.length; i++) {
      if (out[i] < low) {
        out[i] = (int) low;
      }
    }
    for (int i = 0; i < out.length && left > 0; i++) {
      if (out[i] == low) {
        out[i]++;
        left--;
      }
    }
    return out;
  }

  private static long raise(int[] counts, long level) {
    long sum = 0;
    for (int c : counts) {
      sum += Math.max(0, level - c);
    }
    return sum;
  }

  /** The fewest streams to move so that every count is within the band; 0 when balanced. */
  static int needed(int[] counts, double tolerance) {
    int n = counts.length;
    if (n < 2) {
      return 0;
    }
    long total = 0;
    for (int c : counts) {
      total += c;
    }
    double fair = (double) total / n;
    long hi = Math.max((long) Math.ceil(fair), (long) Math.floor(fair * (1 + tolerance) + 1e-9));
    long lo = Math.min((long) Math.floor(fair), (long) Math.ceil(fair * (1 - tolerance) - 1e-9));
    long excess = 0;
    long deficit = 0;
    for (int c : counts) {
      excess += Math.max(0, c - hi);
      deficit += Math.max(0, lo - c);
    }
    return (int) Math.max(excess, deficit);
  }

  /**
   * Returns how many streams to end on each endpoint: {@link #needed} of them, at most {@code
   * budget}, from the busiest first; all zeros when the counts are within the band.
   */
  static int[] ends(int[] counts, double tolerance, int budget) {
    int n = counts.length;
    int[] ends = new int[n];
    int moves = Math.min(needed(counts, tolerance), budget);
    if (moves <= 0) {
      return ends;
    }
    long total = 0;
    for (int c : counts) {
      total += c;
    }
    double fair = (double) total / n;
    for (int m = 0; m < moves; m++) {
      int busiest = -1;
      for (int i = 0; i < n; i++) {
        if (busiest < 0 || counts[i] - ends[i] > counts[busiest] - ends[busiest]) {
          busiest = i;
        }
      }
      if (counts[busiest] - ends[busiest] - 1 < fair) {
        break; // ending more would only move streams between endpoints at their fair share
      }
      ends[busiest]++;
    }
    return ends;
  }
}
