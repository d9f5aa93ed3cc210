package io.github.kubegrpclb.core;

import java.util.function.IntUnaryOperator;

/**
 * Draws an index with probability proportional to its slow-start weight, for both policies'
 * pickers: running sums of the weights, built once per picker, and a binary search over them per
 * draw, O(log n) and allocation-free. Stateless; the arrays it builds are never written afterwards.
 */
final class WeightedDraw {
  private WeightedDraw() {}

  /**
   * Running sums of the first {@code size} weights, in units of 2^30 / size per full weight (so the
   * total stays below 2^30 whatever the size); every weight counts at least one unit.
   */
  static int[] cumulative(double[] weights, int size) {
    int[] cumulative = new int[size];
    int drawUnit = Math.max(1, (1 << 30) / Math.max(1, size));
    long total = 0;
    for (int i = 0; i < size; i++) {
      total += Math.max(1, (long) Math.ceil(weights[i] * drawUnit));
      cumulative[i] = (int) Math.min(Integer.MAX_VALUE, total);
    }
    return cumulative;
  }

  /**
   * An index in [0, size) drawn in proportion to its weight.
   *
   * @param random returns a uniform int in {@code [0, bound)}
   */
  static int draw(int[] cumulative, int size, IntUnaryOperator random) {
    return indexOf(cumulative, size, random.applyAsInt(cumulative[size - 1]));
  }

  /**
   * An index in [0, size) other than {@code excluded}, drawn in proportion to its weight among the
   * others: exactly a weighted draw without replacement, in O(log n). The target is drawn from the
   * total less the excluded weight and skips the excluded range; every weight counts at least one
   * unit, so with two or more indices the others weigh at least one unit.
   */
  static int drawExcept(int[] cumulative, int size, int excluded, IntUnaryOperator random) {
    int start = excluded == 0 ? 0 : cumulative[excluded - 1];
    int weight = cumulative[excluded] - start;
    int target = random.applyAsInt(cumulative[size - 1] - weight);
    return indexOf(cumulative, size, target >= start ? target + weight : target);
  }

  private static int indexOf(int[] cumulative, int size, int target) {
    int low = 0;
    int high = size - 1;
    while (low < high) { // the first index whose running sum exceeds target
      int mid = (low + high) >>> 1;
      if (cumulative[mid] > target) {
        high = mid;
      } else {
        low = mid + 1;
      }
    }
    return low;
  }
}
