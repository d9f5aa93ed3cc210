package io.github.kubegrpclb.testing.fleet;

import io.grpc.Status;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * Counts what happens in each window of simulated time (1 s): RPC attempts per pod, RPCs buffered
 * by the policy while a connection was READY, outcomes. At the end of each window it hands the
 * counts to its listener (the invariant checker). Single-threaded: the simulation's thread.
 */
final class SimRecorder {
  static final long WINDOW_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** Receives each finished window. */
  interface Listener {
    void windowEnded(FleetSim sim, Window window);
  }

  /** The counts of one window; {@code picks} is indexed by pod id. */
  static final class Window {
    final long startNanos;
    final long endNanos;
    long[] picks = new long[64];
    long total;
    long bufferedByPolicyWhileReady;
    long buffered;
    long ok;
    long failed;
    long refused;

    Window(long startNanos) {
      this.startNanos = startNanos;
      this.endNanos = startNanos + WINDOW_NANOS;
    }

    long picksOf(SimPod pod) {
      return pod.id < picks.length ? picks[pod.id] : 0;
    }
  }

  private final FleetSim sim;
  private final Listener listener;
  private Window current;

  SimRecorder(FleetSim sim, Listener listener) {
    this.sim = sim;
    this.listener = listener;
  }

  void start() {
    current = new Window(sim.now());
    sim.schedule(WINDOW_NANOS, this::roll);
  }

  private void roll() {
    Window ended = current;
    current = new Window(sim.now());
    sim.schedule(WINDOW_NANOS, this::roll);
    listener.windowEnded(sim, ended);
  }

  void picked(SimPod pod) {
    if (pod.id >= current.picks.length) {
      current.picks = Arrays.copyOf(current.picks, Math.max(pod.id + 1, current.picks.length * 2));
    }
    current.picks[pod.id]++;
    current.total++;
  }

  void buffered(boolean byPolicyWhileReady) {
    current.buffered++;
    if (byPolicyWhileReady) {
      current.bufferedByPolicyWhileReady++;
    }
  }

  void refused() {
    current.refused++;
  }

  void finished(Status status) {
    if (status.isOk()) {
      current.ok++;
    } else {
      current.failed++;
    }
  }
}
