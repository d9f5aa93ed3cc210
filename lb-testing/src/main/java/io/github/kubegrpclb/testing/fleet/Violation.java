package io.github.kubegrpclb.testing.fleet;

import java.util.Locale;

/**
 * One invariant broken in one window: which run (policy, features, event, seed), which invariant,
 * the window, and the numbers. Immutable.
 */
public final class Violation {
  private final String run;
  private final String invariant;
  private final long windowStartNanos;
  private final long windowEndNanos;
  private final String numbers;

  Violation(
      String run, String invariant, long windowStartNanos, long windowEndNanos, String numbers) {
    this.run = run;
    this.invariant = invariant;
    this.windowStartNanos = windowStartNanos;
    this.windowEndNanos = windowEndNanos;
    this.numbers = numbers;
  }

  /** The invariant's name: share, sick, ejection cap, buffering or convergence. */
  public String invariant() {
    return invariant;
  }

  /** The run: policy, features, event or event sequence, seed. */
  public String run() {
    return run;
  }

  /** Where the broken window starts, in simulated nanoseconds since the run's start. */
  public long windowStartNanos() {
    return windowStartNanos;
  }

  /** What was measured in the window against what the invariant allows. */
  public String numbers() {
    return numbers;
  }

  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "[%s window=%.0f-%.0fs] %s: %s",
        run,
        windowStartNanos / 1e9,
        windowEndNanos / 1e9,
        invariant,
        numbers);
  }
}
