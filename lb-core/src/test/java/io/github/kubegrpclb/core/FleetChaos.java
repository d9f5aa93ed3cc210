package io.github.kubegrpclb.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.fleet.Features;
import io.github.kubegrpclb.testing.fleet.FleetPolicy;
import io.github.kubegrpclb.testing.fleet.FleetReport;
import io.github.kubegrpclb.testing.fleet.FleetRun;
import io.github.kubegrpclb.testing.fleet.Violation;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The long randomised run of the fleet-event harness (docs/fleet-harness.md): for each seed, a
 * random fleet goes through a random sequence of fleet events, for both policies ({@link
 * FleetPolicies}) and four feature sets, and every violated invariant is printed with its seed
 * (replay one with {@code FleetRun.randomSequence(policy, features, seed, events)}). Not part of
 * the normal test run (the name does not end in Test):
 *
 * <pre>
 * mvn -B -q -pl lb-core -am test -Dtest=FleetChaos -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dfleet.seeds=100 [-Dfleet.events=8] [-Dfleet.threads=2] [-Dfleet.baseline=round_robin]
 *     [-Dfleet.only=36,70]
 * </pre>
 *
 * {@code fleet.only} runs only the seeds listed (of the first {@code fleet.seeds}), to replay them.
 *
 * <p>With {@code fleet.baseline=round_robin}, every run with a violation is run again with
 * grpc-java's plain {@code round_robin} judged as the policy was ({@link
 * FleetPolicies#plainRoundRobin}), and a table says, per violated window, whether plain round robin
 * breaks the same invariant in the same window. Prints its report and writes it to {@code
 * lb-core/target/fleet-chaos.md}; fails when any invariant broke.
 */
class FleetChaos {
  private static final Pattern EVENT = Pattern.compile("([A-Z0-9_]+)@(\\d+)");

  @Test
  void run() throws InterruptedException, ExecutionException, IOException {
    int seeds = Integer.getInteger("fleet.seeds", 200);
    String only = System.getProperty("fleet.only", "");
    int events = Integer.getInteger("fleet.events", 8);
    int threads = Integer.getInteger("fleet.threads", 2);
    String baseline = System.getProperty("fleet.baseline", "");
    if (!baseline.isEmpty() && !baseline.equals("round_robin")) {
      throw new IllegalArgumentException(
          "fleet.baseline='" + baseline + "': expected round_robin, or leave it unset");
    }
    List<Features> featureSets =
        List.of(Features.DEFAULTS, Features.NO_SLOW_START, Features.NO_EJECTION, Features.ALL_OFF);
    StringBuilder out = new StringBuilder();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    long started = System.nanoTime();
    int failed = 0;
    try {
      List<Future<FleetReport>> runs = new ArrayList<>();
      List<Future<FleetReport>> baselines = new ArrayList<>();
      List<FleetReport> broken = new ArrayList<>();
      for (long seed = 1; seed <= seeds; seed++) {
        if (!only.isEmpty() && !List.of(only.split(",")).contains(Long.toString(seed))) {
          // Skipped runs still count, so that the seed of run i stays 1 + i / 8.
          for (int skipped = 0; skipped < 2 * featureSets.size(); skipped++) {
            runs.add(CompletableFuture.completedFuture(null));
          }
          continue;
        }
        for (FleetPolicy policy :
            List.of(FleetPolicies.kubeRoundRobin(), FleetPolicies.peakEwma())) {
          for (Features features : featureSets) {
            long s = seed;
            runs.add(pool.submit(() -> FleetRun.randomSequence(policy, features, s, events)));
          }
        }
      }
      int violations = 0;
      int ran = 0;
      for (int i = 0; i < runs.size(); i++) {
        FleetReport report = runs.get(i).get();
        ran += report == null ? 0 : 1;
        if (report == null || report.passed()) {
          continue;
        }
        failed++;
        violations += report.violations().size();
        out.append(report.summary());
        broken.add(report);
        if (!baseline.isEmpty()) {
          // The same seed, events and feature set; only the balancer differs.
          int run = i;
          FleetPolicy plain = FleetPolicies.plainRoundRobin(policyOf(run, featureSets.size()));
          Features features = featureSets.get(run % featureSets.size());
          long seed = 1 + run / (2L * featureSets.size());
          baselines.add(
              pool.submit(() -> FleetRun.randomSequence(plain, features, seed, events, true)));
        }
      }
      StringBuilder table = new StringBuilder();
      for (int i = 0; i < baselines.size(); i++) {
        table.append(compare(broken.get(i), baselines.get(i).get()));
      }
      out.append(
          String.format(
              Locale.ROOT,
              "%d runs (%d seeds x 2 policies x %d feature sets, %d events each), %d with violations"
                  + " (%d violated windows), %.0f s%n",
              ran,
              ran / (2 * featureSets.size()),
              featureSets.size(),
              events,
              failed,
              violations,
              (System.nanoTime() - started) / 1e9));
      if (!baseline.isEmpty()) {
        out.append(
                "\nEach violated window against grpc-java's round_robin, same seed and window:\n\n")
            .append("| seed | event (window) | policy | features | invariant | ours | plain RR |\n")
            .append("|---|---|---|---|---|---|---|\n")
            .append(table);
      }
    } finally {
      pool.shutdownNow();
    }
    System.out.print(out);
    Path file = Path.of("target", "fleet-chaos.md");
    Files.createDirectories(file.getParent());
    Files.writeString(file, out, StandardCharsets.UTF_8);
    assertThat(failed).as("runs with violations (see %s)", file.toAbsolutePath()).isZero();
  }

  /** The policy of run {@code run} in submission order (seed, then policy, then feature set). */
  private static FleetPolicy policyOf(int run, int featureSets) {
    return (run / featureSets) % 2 == 0 ? FleetPolicies.kubeRoundRobin() : FleetPolicies.peakEwma();
  }

  /**
   * One row per violated window: what plain round robin measured for the same invariant in the same
   * window (the same pods struck at the same times, each pod's connect and backoff times drawn from
   * its own stream, which the picks do not move), and in how many windows of its run it broke that
   * invariant.
   */
  private static String compare(FleetReport ours, FleetReport plain) {
    StringBuilder rows = new StringBuilder();
    for (Violation v : ours.violations()) {
      String match = null;
      int brokenWindows = 0;
      for (Violation p : plain.violations()) {
        if (p.invariant().equals(v.invariant())) {
          brokenWindows++;
          if (match == null && p.windowStartNanos() == v.windowStartNanos()) {
            match = "broken: " + p.numbers();
          }
        }
      }
      if (match == null) {
        String seen = plain.observed(v.invariant(), v.windowStartNanos());
        match = "holds" + (seen == null ? " (check did not apply)" : ": " + seen);
      }
      rows.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %s | %s | %s | %s | %s (broken in %d windows of its run) |%n",
              field(ours.run(), "seed"),
              eventAt(ours.run(), v.windowStartNanos()),
              field(ours.run(), "policy"),
              field(ours.run(), "features"),
              v.invariant(),
              v.numbers(),
              match,
              brokenWindows));
    }
    return rows.toString();
  }

  private static String field(String run, String name) {
    Matcher m = Pattern.compile(name + "=([^ ]+)").matcher(run);
    return m.find() ? m.group(1) : "?";
  }

  /** The last event of the sequence struck at or before {@code nanos}, and the window's start. */
  private static String eventAt(String run, long nanos) {
    long second = nanos / 1_000_000_000L;
    String last = "before the first event";
    Matcher m = EVENT.matcher(run);
    while (m.find()) {
      if (Long.parseLong(m.group(2)) <= second) {
        last = m.group(1) + "@" + m.group(2);
      }
    }
    return last + " (" + second + " s)";
  }
}
