package io.github.kubegrpclb.testing.fleet;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The invariants, checked at the end of every window of simulated time:
 *
 * <ol>
 *   <li><b>share</b>: no endpoint takes more than 1.5x its fair share of the window's RPCs among
 *       the healthy endpoints READY all window (in the client's zone when it has any). A ramping
 *       endpoint's fair share is its documented slow-start weight, and the share it does not take
 *       yet is spread over the others in proportion: {@code fair(i) = w(i) / sum(w)}; a ramping
 *       endpoint's own bound uses its full weight (the bound is about overload). An endpoint with
 *       no RPC is left out (reported as <b>healthy out</b>).
 *   <li><b>sick</b>: once its detection time has passed, a sick endpoint (hung, partitioned,
 *       failing, slow, where the policy and features claim to notice it) takes under 1 % of the
 *       window's RPCs, and callers do not all end up stuck on it (a window with no successful RPC).
 *   <li><b>healthy out</b>: no healthy endpoint READY all window goes without an RPC (ejected by a
 *       blip shared by most endpoints, or starved by a bad estimate).
 *   <li><b>ejection cap</b>: endpoints READY all window that got no RPC (ejected or avoided) are at
 *       most {@code maxEjectionPercent} (50 %) of the balancer's endpoints.
 *   <li><b>buffering</b>: the policy never buffers a pick while a connection is READY.
 *   <li><b>convergence</b>: from the event's settle time (its end, plus the slow-start window when
 *       the event makes endpoints ramp, plus 2 s) every healthy endpoint's share is within 1.5x of
 *       fair both ways.
 * </ol>
 *
 * Counts get a statistical allowance of {@code 4 sqrt(expected) + 3} RPCs, so that small windows
 * (1,000 endpoints, P2C draws) do not fail by chance. Single-threaded.
 */
final class FleetChecker implements SimRecorder.Listener {
  static final double SHARE_LIMIT = 1.5;
  static final double SICK_LIMIT = 0.01;

  private final String run;
  private final List<Violation> violations = new ArrayList<>();
  private final Map<String, String> observed = new LinkedHashMap<>();
  private boolean observe;
  private long settleAtNanos = Long.MAX_VALUE;
  private long windows;

  FleetChecker(FleetPolicy policy, Features features, String event, long seed) {
    this.run =
        "policy=" + policy.name() + " features=" + features + " event=" + event + " seed=" + seed;
  }

  /** From when shares must be fair again (the event's end plus its settling time). */
  void settleAt(long nanos) {
    settleAtNanos = nanos;
  }

  List<Violation> violations() {
    return violations;
  }

  /**
   * Records, from now on, what each check measured in every window, broken or not ({@link
   * #observed}): for comparing a baseline's windows with another run's violations.
   */
  void observeEveryWindow() {
    observe = true;
  }

  /** What {@code invariant}'s check measured in each window, by window start (nanoseconds). */
  Map<String, String> observed() {
    return observed;
  }

  private void observe(SimRecorder.Window w, String invariant, String numbers) {
    if (observe) {
      observed.merge(
          invariant + "@" + w.startNanos, numbers, (before, next) -> before + "; " + next);
    }
  }

  long windows() {
    return windows;
  }

  private static double slack(double expected) {
    return 4 * Math.sqrt(Math.max(0, expected)) + 3;
  }

  private static double weight(SimPod pod, long atNanos) {
    return pod.rampStartNanos < 0 ? 1 : Features.rampWeight(atNanos - pod.rampStartNanos);
  }

  @Override
  public void windowEnded(FleetSim sim, SimRecorder.Window w) {
    windows++;
    long s = w.startNanos;
    long e = w.endNanos;
    List<SimPod> set = sim.endpoints();
    List<SimPod> fair = new ArrayList<>();
    for (SimPod pod : set) {
      boolean settledIn = pod.inSetSinceNanos >= 0 && pod.inSetSinceNanos <= s;
      boolean readyAll = pod.readySinceNanos >= 0 && pod.readySinceNanos <= s;
      boolean sick = pod.isSick() && pod.sickSinceNanos <= e;
      if (settledIn && readyAll && !sick && !pod.unstable) {
        fair.add(pod);
      }
    }
    fair = preferred(sim, fair);
    checkBuffering(w);
    checkSick(sim, set, fair, w);
    checkCap(sim, set, w);
    if (fair.isEmpty()) {
      return;
    }
    long fairPicks = 0;
    for (SimPod pod : fair) {
      fairPicks += w.picksOf(pod);
    }
    List<SimPod> inRotation = new ArrayList<>(fair);
    double fairWeights = 0;
    for (SimPod pod : fair) {
      fairWeights += weight(pod, e);
    }
    if (fairPicks > 0) {
      List<SimPod> out = new ArrayList<>();
      for (SimPod pod : fair) {
        // Out only where it should have had plenty: 20 RPCs at its (end-of-window) ramp weight.
        if (w.picksOf(pod) == 0 && weight(pod, e) / fairWeights * fairPicks >= 20) {
          out.add(pod);
        }
      }
      observe(w, "healthy out", out.size() + " of " + fair.size() + " got no RPC");
      if (!out.isEmpty()) {
        add(
            w,
            "healthy out",
            out.size()
                + " of "
                + fair.size()
                + " healthy endpoints READY all window got no RPC (ejected or starved), e.g. "
                + out.get(0)
                + "; "
                + fairPicks
                + " RPCs went to the others");
      }
      inRotation.removeAll(out);
    }
    double weightsAtStart = 0;
    for (SimPod pod : inRotation) {
      weightsAtStart += weight(pod, s);
    }
    for (SimPod pod : inRotation) {
      // A ramping endpoint's own bound is its share at full weight: the ramp protects it, and the
      // bound is about overload (how closely a policy follows the ramp is not an invariant).
      double expected = 1 / (weightsAtStart - weight(pod, s) + 1) * fairPicks;
      double limit = SHARE_LIMIT * expected + slack(expected);
      long picks = w.picksOf(pod);
      observe(
          w,
          "share",
          String.format(
              Locale.ROOT,
              "%s %.1f %% (fair %.1f %%)",
              pod,
              100.0 * picks / fairPicks,
              100 * expected / fairPicks));
      if (picks > limit) {
        add(
            w,
            "share",
            String.format(
                Locale.ROOT,
                "%s took %d of %d RPCs (%.1f %%) among %d healthy endpoints%s; fair %.1f %%,"
                    + " limit %.1f %%",
                pod,
                picks,
                fairPicks,
                100.0 * picks / fairPicks,
                inRotation.size(),
                ramping(inRotation, s),
                100 * expected / fairPicks,
                100 * limit / fairPicks));
      }
    }
    if (s >= settleAtNanos) {
      double total = 0;
      for (SimPod pod : fair) {
        total += weight(pod, s);
      }
      for (SimPod pod : fair) {
        double expected = weight(pod, s) / total * fairPicks;
        double floor = expected / SHARE_LIMIT - slack(expected);
        long picks = w.picksOf(pod);
        if (picks < expected / SHARE_LIMIT) {
          observe(
              w,
              "convergence",
              String.format(
                  Locale.ROOT,
                  "%s %.2f %% (fair %.1f %%)",
                  pod,
                  100.0 * picks / Math.max(1, fairPicks),
                  100 * expected / Math.max(1, fairPicks)));
        }
        if (picks < floor) {
          add(
              w,
              "convergence",
              String.format(
                  Locale.ROOT,
                  "%s took %d of %d RPCs (%.2f %%) %.1f s after the event settled; fair %.1f %%,"
                      + " floor %.1f %%",
                  pod,
                  picks,
                  fairPicks,
                  100.0 * picks / Math.max(1, fairPicks),
                  (s - settleAtNanos) / 1e9,
                  100 * expected / Math.max(1, fairPicks),
                  100 * floor / Math.max(1, fairPicks)));
        }
      }
    }
  }

  /** The endpoints the client's zone preference routes to: its zone's when it has any. */
  private static List<SimPod> preferred(FleetSim sim, List<SimPod> pods) {
    if (sim.clientZone == null) {
      return pods;
    }
    List<SimPod> local = new ArrayList<>();
    for (SimPod pod : pods) {
      if (sim.clientZone.equals(pod.zone)) {
        local.add(pod);
      }
    }
    return local.isEmpty() ? pods : local;
  }

  private static String ramping(List<SimPod> pods, long atNanos) {
    int count = 0;
    for (SimPod pod : pods) {
      count += weight(pod, atNanos) < 1 ? 1 : 0;
    }
    return count == 0 ? "" : " (" + count + " ramping)";
  }

  private void checkBuffering(SimRecorder.Window w) {
    if (w.bufferedByPolicyWhileReady > 0) {
      add(
          w,
          "buffering",
          w.bufferedByPolicyWhileReady
              + " picks buffered by the policy while a connection was READY ("
              + w.total
              + " RPCs sent)");
    }
  }

  private void checkSick(FleetSim sim, List<SimPod> set, List<SimPod> fair, SimRecorder.Window w) {
    boolean anyDetectable = false;
    for (SimPod pod : set) {
      if (!pod.isSick() || w.startNanos < pod.sickSinceNanos + pod.detectionNanos) {
        continue;
      }
      anyDetectable = true;
      long picks = w.picksOf(pod);
      observe(
          w,
          "sick",
          String.format(
              Locale.ROOT,
              "%s (%s) took %d of %d (%.1f %%)",
              pod,
              pod.model,
              picks,
              w.total,
              100.0 * picks / Math.max(1, w.total)));
      if (picks > SICK_LIMIT * w.total + 2) {
        add(
            w,
            "sick",
            String.format(
                Locale.ROOT,
                "%s (%s since %.1f s, detection time %.1f s) took %d of %d RPCs (%.1f %%),"
                    + " limit 1 %%",
                pod,
                pod.model,
                pod.sickSinceNanos / 1e9,
                pod.detectionNanos / 1e9,
                picks,
                w.total,
                100.0 * picks / Math.max(1, w.total)));
      }
    }
    if (anyDetectable && w.ok == 0 && !fair.isEmpty()) {
      add(
          w,
          "sick",
          "no RPC succeeded in the window although "
              + fair.size()
              + " healthy endpoints were READY: every caller is stuck ("
              + w.total
              + " RPCs sent, "
              + w.failed
              + " failed)");
    }
  }

  private void checkCap(FleetSim sim, List<SimPod> set, SimRecorder.Window w) {
    if (!sim.features.ejection) {
      return;
    }
    int endpoints = sim.helper().live().size();
    List<SimPod> readyAll = new ArrayList<>();
    for (SimPod pod : set) {
      if (pod.inSetSinceNanos >= 0
          && pod.inSetSinceNanos <= w.startNanos
          && pod.readySinceNanos >= 0
          && pod.readySinceNanos <= w.startNanos) {
        readyAll.add(pod);
      }
    }
    readyAll = preferred(sim, readyAll);
    if (readyAll.isEmpty() || w.total / readyAll.size() < 20) {
      return;
    }
    int out = 0;
    for (SimPod pod : readyAll) {
      out += w.picksOf(pod) == 0 ? 1 : 0;
    }
    int cap = endpoints * Features.MAX_EJECTION_PERCENT / 100;
    if (out > cap) {
      add(
          w,
          "ejection cap",
          out
              + " of "
              + endpoints
              + " endpoints READY all window got no RPC (ejected or avoided); cap "
              + cap);
    }
  }

  private void add(SimRecorder.Window w, String invariant, String numbers) {
    violations.add(new Violation(run, invariant, w.startNanos, w.endNanos, numbers));
  }
}
