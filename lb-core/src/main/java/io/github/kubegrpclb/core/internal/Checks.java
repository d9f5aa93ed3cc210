package io.github.kubegrpclb.core.internal;

import java.time.Duration;

/** Argument checks shared by this library's option builders. Stateless. */
public final class Checks {
  private Checks() {}

  /**
   * Returns {@code value} if it is positive.
   *
   * @throws IllegalArgumentException naming the option and the value, otherwise
   */
  public static Duration positive(String name, Duration value) {
    if (value == null || value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
    }
    return value;
  }
}
