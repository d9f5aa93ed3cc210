package io.github.kubegrpclb.testing.fleet;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one simulated run found: every violated invariant with its numbers, and how many windows
 * were checked. Immutable.
 */
public final class FleetReport {
  private final String run;
  private final List<Violation> violations;
  private final long windows;
  private final Map<String, String> observed;

  FleetReport(String run, List<Violation> violations, long windows) {
    this(run, violations, windows, Map.of());
  }

  FleetReport(String run, List<Violation> violations, long windows, Map<String, String> observed) {
    this.run = run;
    this.violations = List.copyOf(violations);
    this.windows = windows;
    this.observed = Map.copyOf(observed);
  }

  /** The run: policy, features, event or event sequence (each with its second), seed. */
  public String run() {
    return run;
  }

  /**
   * What {@code invariant}'s check measured in the window starting at {@code windowStartNanos},
   * broken or not; null when the run did not observe every window ({@link
   * FleetRun#randomSequence(FleetPolicy, Features, long, int, boolean)}) or the check did not apply
   * (no sick endpoint detectable, no healthy endpoint under its fair share).
   */
  public String observed(String invariant, long windowStartNanos) {
    return observed.get(invariant + "@" + windowStartNanos);
  }

  public boolean passed() {
    return violations.isEmpty();
  }

  public List<Violation> violations() {
    return violations;
  }

  /**
   * The run (policy, features, event or event sequence, seed), then the first violation of each
   * invariant and how many windows broke it, one per line: what a failing test prints.
   */
  public String summary() {
    if (violations.isEmpty()) {
      return run + ": no violation in " + windows + " windows";
    }
    Map<String, Violation> first = new LinkedHashMap<>();
    Map<String, Integer> counts = new LinkedHashMap<>();
    for (Violation violation : violations) {
      first.putIfAbsent(violation.invariant(), violation);
      counts.merge(violation.invariant(), 1, Integer::sum);
    }
    StringBuilder text = new StringBuilder(run).append(":\n");
    for (Map.Entry<String, Violation> entry : first.entrySet()) {
      text.append("  ")
          .append(entry.getValue())
          .append(" (")
          .append(counts.get(entry.getKey()))
          .append(" violations of ")
          .append(entry.getKey())
          .append(" in ")
          .append(windows)
          .append(" windows)\n");
    }
    return text.toString();
  }

  @Override
  public String toString() {
    return summary();
  }
}
