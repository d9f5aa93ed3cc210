package io.github.kubegrpclb.testing.fleet;

import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The fleet events every cluster sees, each with the fleet it starts from. {@link #apply} runs at
 * the event time and returns how long after it shares must be fair again (excluding the slow-start
 * window, which {@link FleetRun} adds when the event makes endpoints ramp).
 */
public enum FleetEvent {
  /** 10 pods, 10 more in one EndpointSlice update. */
  SCALE_UP_X2(10, 8) {
    @Override
    long apply(FleetSim sim) {
      List<SimPod> pods = sim.endpoints();
      pods.addAll(sim.newPods(10, null, healthy()));
      sim.publish(pods);
      return ramped(sim, 0);
    }
  },
  /** 10 pods, 90 more in one update. */
  SCALE_UP_X10(10, 16) {
    @Override
    long apply(FleetSim sim) {
      List<SimPod> pods = sim.endpoints();
      pods.addAll(sim.newPods(90, null, healthy()));
      sim.publish(pods);
      return ramped(sim, 0);
    }
  },
  /** 20 pods, the last 10 removed in one update. */
  SCALE_DOWN_HALF(20, 8) {
    @Override
    long apply(FleetSim sim) {
      List<SimPod> pods = sim.endpoints();
      sim.publish(new ArrayList<>(pods.subList(0, 10)));
      return s(2);
    }
  },
  /** 10 pods replaced one at a time (maxSurge 1, maxUnavailable 0), a step per second. */
  ROLLING_UPDATE_ONE_BY_ONE(10, 8) {
    @Override
    long apply(FleetSim sim) {
      return rolling(sim, 1);
    }
  },
  /** 10 pods replaced three at a time (maxSurge 25 %), a step per second. */
  ROLLING_UPDATE_SURGE_25(10, 8) {
    @Override
    long apply(FleetSim sim) {
      return rolling(sim, 3);
    }
  },
  /** 10 pods replaced by 10 new ones in one update: all new, none ramps. */
  BLUE_GREEN(10, 8) {
    @Override
    long apply(FleetSim sim) {
      sim.publish(sim.newPods(10, null, healthy()));
      return s(2);
    }
  },
  /** The client's network drops for 200 ms: every connection breaks and reconnects (no ramp). */
  CLIENT_BLIP(10, 8) {
    @Override
    long apply(FleetSim sim) {
      for (SimPod pod : sim.endpoints()) {
        pod.rampOnNextReady = false;
      }
      sim.setNetworkDown(true);
      sim.schedule(TimeUnit.MILLISECONDS.toNanos(200), () -> sim.setNetworkDown(false));
      return s(2) + TimeUnit.MILLISECONDS.toNanos(1500); // reconnect after one backoff (1 s +20 %)
    }
  },
  /**
   * The client's network black-holes packets for 1.5 s: connections stay READY, every RPC in flight
   * times out together (1 s deadline), then traffic flows again. No pod is sick.
   */
  CLIENT_STALL(10, 8) {
    @Override
    long apply(FleetSim sim) {
      List<SimPod> pods = sim.endpoints();
      for (SimPod pod : pods) {
        pod.reach = SimPod.Reach.PARTITIONED;
      }
      sim.schedule(
          s(3) / 2,
          () -> {
            for (SimPod pod : pods) {
              pod.reach = SimPod.Reach.SERVING;
            }
          });
      return s(3) / 2 + s(2);
    }
  },
  /**
   * Every pod sends GOAWAY at a max connection age of 2 s (+-10 %), from now on; the fleet grew
   * from 1 to 10 pods under traffic at start-up and finished ramping long before.
   */
  MAX_CONNECTION_AGE(1, 8) {
    @Override
    void setUp(FleetSim sim) {
      sim.schedule(
          s(1) / 10,
          () -> {
            List<SimPod> pods = sim.endpoints();
            pods.addAll(sim.newPods(9, null, healthy()));
            sim.publish(pods);
          });
    }

    @Override
    long eventAtNanos() {
      return s(13);
    }

    @Override
    long apply(FleetSim sim) {
      sim.maxAgeNanos = s(2);
      for (SimConnection connection : new ArrayList<>(sim.helper().live())) {
        sim.scheduleGoAway(connection, (long) (s(2) * sim.networkDraw(connection.pod)));
      }
      return s(2);
    }
  },
  /** One pod's process dies; its container restarts 3 s later (cold, ramped). */
  POD_CRASH(10, 8) {
    @Override
    long apply(FleetSim sim) {
      SimPod pod = sim.victim();
      sim.crash(pod);
      sim.schedule(s(3), () -> sim.restart(pod, true));
      return ramped(sim, s(3) + s(3)); // restart, then up to two backoffs (1 s, 1.6 s)
    }
  },
  /** One pod black-holed: its open connection stays READY, nothing comes back. */
  PARTITION(10, 8) {
    @Override
    long apply(FleetSim sim) {
      SimPod pod = sim.victim();
      pod.reach = SimPod.Reach.PARTITIONED;
      return sicken(sim, pod, pod.model, sim.deadlineNanos + s(1));
    }
  },
  /**
   * One pod hangs; callers set no deadline (grpc-java's default). Calls arrive open-loop (8
   * callers, one call every 2 ms each): closed-loop callers without deadlines would all end up
   * stuck on the hung pod, whatever the balancer does.
   */
  HUNG_POD_NO_DEADLINE(10, 8) {
    @Override
    void setUp(FleetSim sim) {
      sim.deadlineSource = SimRpc.DeadlineSource.NONE;
      sim.openLoopIntervalNanos = TimeUnit.MILLISECONDS.toNanos(2);
    }

    @Override
    long apply(FleetSim sim) {
      return sicken(sim, sim.victim(), LatencyModel.hung(), hungDetection(sim));
    }
  },
  /** One pod hangs; callers set a 200 ms deadline in their CallOptions. */
  HUNG_POD_CALL_OPTIONS_DEADLINE(10, 8) {
    @Override
    void setUp(FleetSim sim) {
      sim.deadlineSource = SimRpc.DeadlineSource.CALL_OPTIONS;
      sim.deadlineNanos = TimeUnit.MILLISECONDS.toNanos(200);
    }

    @Override
    long apply(FleetSim sim) {
      return sicken(sim, sim.victim(), LatencyModel.hung(), hungDetection(sim));
    }
  },
  /**
   * One pod hangs; callers run in a gRPC Context with a 200 ms deadline (a server handler calling
   * on), so the attempt's CallOptions carry none.
   */
  HUNG_POD_CONTEXT_DEADLINE(10, 8) {
    @Override
    void setUp(FleetSim sim) {
      sim.deadlineSource = SimRpc.DeadlineSource.CONTEXT;
      sim.deadlineNanos = TimeUnit.MILLISECONDS.toNanos(200);
    }

    @Override
    long apply(FleetSim sim) {
      return sicken(sim, sim.victim(), LatencyModel.hung(), hungDetection(sim));
    }
  },
  /** One pod 20x slower (40 ms instead of 2 ms). */
  SLOW_POD(10, 8) {
    @Override
    long apply(FleetSim sim) {
      // peak_ewma steers by latency at once; kube_round_robin can only eject it, at the next
      // success-rate/latency interval (10 s).
      long detection = sim.policy.latencyAware() ? s(2) : s(12);
      return sicken(sim, sim.victim(), LatencyModel.slow(40), detection);
    }
  },
  /** One pod fails every RPC at once with UNAVAILABLE (its health probe still answers). */
  FAST_FAILING_POD(10, 8) {
    @Override
    long apply(FleetSim sim) {
      LatencyModel failing = LatencyModel.failing(Status.Code.UNAVAILABLE, 0.2);
      return sicken(sim, sim.victim(), failing, s(1));
    }
  },
  /** 3 zones x 5 pods with zone hints, client in zone a; zone a goes down for 5 s. */
  ZONE_OUTAGE(15, 3) {
    @Override
    void setUp(FleetSim sim) {
      sim.clientZone = "zone-a";
    }

    @Override
    List<SimPod> initialPods(FleetSim sim) {
      List<SimPod> pods = new ArrayList<>();
      for (String zone : List.of("zone-a", "zone-b", "zone-c")) {
        pods.addAll(sim.newPods(5, zone, healthy()));
      }
      return pods;
    }

    @Override
    long apply(FleetSim sim) {
      List<SimPod> local = new ArrayList<>();
      for (SimPod pod : sim.endpoints()) {
        if ("zone-a".equals(pod.zone)) {
          local.add(pod);
          sim.crash(pod);
        }
      }
      sim.schedule(
          s(5),
          () -> {
            for (SimPod pod : local) {
              sim.restart(pod, true);
            }
          });
      return ramped(sim, s(5) + s(3));
    }
  },
  /** One pod's connection drops every 2 s and is refused for 500 ms (excluded from fair shares). */
  FLAPPING_ENDPOINT(10, 8) {
    @Override
    long apply(FleetSim sim) {
      SimPod pod = sim.victim();
      pod.unstable = true;
      flap(sim, pod);
      return s(2);
    }

    private void flap(FleetSim sim, SimPod pod) {
      sim.crash(pod);
      sim.schedule(TimeUnit.MILLISECONDS.toNanos(500), () -> sim.restart(pod, true));
      sim.schedule(s(2), () -> flap(sim, pod));
    }
  },
  /** 500 pods, 500 more in one update: 1,000 endpoints. */
  THOUSAND_ENDPOINTS(500, 16) {
    @Override
    long apply(FleetSim sim) {
      List<SimPod> pods = sim.endpoints();
      pods.addAll(sim.newPods(500, null, healthy()));
      sim.publish(pods);
      return ramped(sim, 0);
    }
  };

  final int initialPods;
  final int callers;

  FleetEvent(int initialPods, int callers) {
    this.initialPods = initialPods;
    this.callers = callers;
  }

  /** Sets the simulation's options before it starts (deadlines, zone). */
  void setUp(FleetSim sim) {}

  /** The pods published at start-up. */
  List<SimPod> initialPods(FleetSim sim) {
    return sim.newPods(initialPods, null, healthy());
  }

  /** When the event strikes, after the fleet has served for a while. */
  long eventAtNanos() {
    return s(3);
  }

  /** Runs the event now; returns after how long shares must be fair again. */
  abstract long apply(FleetSim sim);

  /** The feature sets worth running this event with. */
  public List<Features> featureSets() {
    List<Features> sets =
        new ArrayList<>(
            List.of(
                Features.DEFAULTS, Features.NO_SLOW_START, Features.NO_EJECTION, Features.ALL_OFF));
    if (this == ZONE_OUTAGE) {
      sets.add(Features.NO_ZONE_SPILL);
    }
    if (this == SCALE_UP_X10 || this == THOUSAND_ENDPOINTS) {
      sets.add(Features.SUBSET_50);
    }
    return sets;
  }

  static LatencyModel healthy() {
    return LatencyModel.fixed(2);
  }

  static long s(long seconds) {
    return TimeUnit.SECONDS.toNanos(seconds);
  }

  /** {@code after} plus the slow-start window (when on) plus 2 s. */
  static long ramped(FleetSim sim, long after) {
    return after + (sim.features.slowStart ? Features.SLOW_START_WINDOW_NANOS : 0) + s(2);
  }

  /**
   * Makes {@code pod} sick now. It counts as sick for the invariant only where the run claims to
   * notice it: outlier ejection on, or a latency-aware policy; otherwise it is just left out of the
   * fair shares (plain round robin does not avoid it either).
   */
  static long sicken(FleetSim sim, SimPod pod, LatencyModel model, long detectionNanos) {
    if (sim.policy.latencyAware() || sim.features.ejection) {
      pod.sicken(model, sim.now(), detectionNanos);
    } else {
      pod.model = model;
      pod.unstable = true;
    }
    return detectionNanos + s(2);
  }

  /**
   * How long a hung pod may take RPCs: its first RPC's deadline plus 1 s; without deadlines 3 s
   * (long against the fleet's 2 ms latency).
   */
  static long hungDetection(FleetSim sim) {
    return sim.deadlineSource == SimRpc.DeadlineSource.NONE ? s(3) : sim.deadlineNanos + s(1);
  }

  private static long rolling(FleetSim sim, int surge) {
    List<SimPod> old = sim.endpoints();
    int steps = (old.size() + surge - 1) / surge;
    for (int step = 0; step < steps; step++) {
      int from = step * surge;
      int to = Math.min(old.size(), from + surge);
      sim.schedule(
          s(step),
          () -> {
            List<SimPod> pods = sim.endpoints();
            pods.addAll(sim.newPods(to - from, null, healthy()));
            sim.publish(pods);
          });
      sim.schedule(
          s(step) + s(1) / 2,
          () -> {
            List<SimPod> pods = sim.endpoints();
            pods.removeAll(old.subList(from, to));
            sim.publish(pods);
          });
    }
    return ramped(sim, s(steps));
  }
}
