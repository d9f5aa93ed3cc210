package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer.Subchannel;
import io.grpc.SynchronizationContext;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Takes endpoints that fail out of rotation and brings them back, for both policies.
 *
 * <p>Detection, as Envoy's and grpc-java's outlier detection: a streak of {@code
 * consecutiveFailures} failed RPCs ejects at once; every {@code interval}, endpoints with enough
 * requests whose success rate is below {@code mean - stdevFactor * stdev} of their peers are
 * ejected. An endpoint stays out for {@code baseEjectionTime x times ejected} (capped), and the
 * count of times drops by one per interval without an ejection. Never more than {@code
 * maxEjectionPercent} of the endpoints are out at once (the panic threshold: when most endpoints
 * look bad, traffic is spread over them rather than piled on the few left).
 *
 * <p>Re-admission differs from Envoy and grpc-java, which put the endpoint back when its time is up
 * and let user RPCs find out whether it recovered: here the balancer first sends its own probe over
 * the endpoint's connection (a {@code grpc.health.v1.Health/Check}; any answer, even UNIMPLEMENTED,
 * proves the pod is reachable and responsive), so a pod that is still partitioned or hung costs no
 * user RPC; a probe that times out is repeated every {@code probeTimeout}.
 *
 * <p>Not thread-safe: runs in the channel's SynchronizationContext; RPC outcomes reach it from
 * {@link OutcomeCounts} triggers through that context.
 */
final class OutlierEjection {
  /** Probes an ejected endpoint; calls back, from any thread, with whether it answered. */
  interface Prober {
    void probe(Subchannel subchannel, long timeoutNanos, Consumer<Boolean> answered);
  }

  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService timerService;
  private final Prober prober;
  private final Runnable onChange;
  private OutlierEjectionConfig config =
      OutlierEjectionConfig.parse("policy", java.util.Map.of("enabled", false));
  private SynchronizationContext.ScheduledHandle intervalTimer;
  private Collection<? extends Endpoint<?>> endpoints = List.of();

  /**
   * @param onChange called (in the context) after an endpoint was ejected or re-admitted
   */
  OutlierEjection(
      SynchronizationContext syncContext,
      ScheduledExecutorService timerService,
      Prober prober,
      Runnable onChange) {
    this.syncContext = syncContext;
    this.timerService = timerService;
    this.prober = prober;
    this.onChange = onChange;
  }

  OutlierEjectionConfig config() {
    return config;
  }

  /** Applies a config to the current endpoint set (a live view, read on every decision). */
  void update(OutlierEjectionConfig newConfig, Collection<? extends Endpoint<?>> endpoints) {
    this.endpoints = endpoints;
    boolean intervalChanged = newConfig.intervalNanos != config.intervalNanos;
    this.config = newConfig;
    if (!newConfig.enabled) {
      stop();
      boolean any = false;
      for (Endpoint<?> endpoint : endpoints) {
        any |= endpoint.ejected;
        readmit(endpoint);
        endpoint.outcomes().arm(Integer.MAX_VALUE, () -> {});
      }
      if (any) {
        onChange.run();
      }
      return;
    }
    for (Endpoint<?> endpoint : endpoints) {
      arm(endpoint);
    }
    if (intervalTimer == null || intervalChanged) {
      if (intervalTimer != null) {
        intervalTimer.cancel();
      }
      intervalTimer =
          syncContext.scheduleWithFixedDelay(
              this::evaluateInterval,
              config.intervalNanos,
              config.intervalNanos,
              TimeUnit.NANOSECONDS,
              timerService);
    }
  }

  /** Stops every timer; ejected endpoints stay as they are until shut down. */
  void stop() {
    if (intervalTimer != null) {
      intervalTimer.cancel();
      intervalTimer = null;
    }
  }

  private void arm(Endpoint<?> endpoint) {
    endpoint
        .outcomes()
        .arm(config.consecutiveFailures, () -> syncContext.execute(() -> onStreak(endpoint)));
  }

  private void onStreak(Endpoint<?> endpoint) {
    if (config.enabled
        && !endpoint.isRemoved()
        && !endpoint.ejected
        && endpoint.outcomes().streak() >= config.consecutiveFailures
        && eject(endpoint)) {
      onChange.run();
    }
  }

  private void evaluateInterval() {
    List<Endpoint<?>> candidates = new ArrayList<>();
    List<Double> rates = new ArrayList<>();
    for (Endpoint<?> endpoint : endpoints) {
      long[] counts = endpoint.outcomes().drainInterval();
      long total = counts[0] + counts[1];
      if (!endpoint.ejected && total >= config.requestVolume) {
        candidates.add(endpoint);
        rates.add((double) counts[0] / total);
      }
    }
    boolean changed = false;
    List<Endpoint<?>> ejectedNow = new ArrayList<>();
    if (candidates.size() >= config.minimumHosts) {
      double mean = 0;
      for (double rate : rates) {
        mean += rate;
      }
      mean /= rates.size();
      double variance = 0;
      for (double rate : rates) {
        variance += (rate - mean) * (rate - mean);
      }
      double threshold = mean - config.stdevFactor * Math.sqrt(variance / rates.size());
      for (int i = 0; i < candidates.size(); i++) {
        if (rates.get(i) < threshold && eject(candidates.get(i))) {
          ejectedNow.add(candidates.get(i));
          changed = true;
        }
      }
    }
    for (Endpoint<?> endpoint : endpoints) {
      if (!endpoint.ejected && endpoint.timesEjected > 0 && !ejectedNow.contains(endpoint)) {
        endpoint.timesEjected--;
      }
    }
    if (changed) {
      onChange.run();
    }
  }

  /** Ejects unless the panic threshold forbids; returns whether it did. */
  private boolean eject(Endpoint<?> endpoint) {
    int out = 0;
    for (Endpoint<?> other : endpoints) {
      out += other.ejected ? 1 : 0;
    }
    if (out + 1 > config.maxEjected(endpoints.size())) {
      return false;
    }
    endpoint.ejected = true;
    endpoint.timesEjected++;
    endpoint.ejectionTimer =
        syncContext.schedule(
            () -> probe(endpoint),
            config.ejectionNanos(endpoint.timesEjected),
            TimeUnit.NANOSECONDS,
            timerService);
    return true;
  }

  private void probe(Endpoint<?> endpoint) {
    endpoint.ejectionTimer = null;
    if (endpoint.isRemoved() || !endpoint.ejected) {
      return;
    }
    prober.probe(
        endpoint.subchannel(),
        config.probeTimeoutNanos,
        answered -> syncContext.execute(() -> onProbeResult(endpoint, answered)));
  }

  private void onProbeResult(Endpoint<?> endpoint, boolean answered) {
    if (endpoint.isRemoved() || !endpoint.ejected) {
      return;
    }
    if (answered) {
      readmit(endpoint);
      onChange.run();
    } else {
      endpoint.ejectionTimer =
          syncContext.schedule(
              () -> probe(endpoint), config.probeTimeoutNanos, TimeUnit.NANOSECONDS, timerService);
    }
  }

  private static void readmit(Endpoint<?> endpoint) {
    endpoint.ejected = false;
    if (endpoint.ejectionTimer != null) {
      endpoint.ejectionTimer.cancel();
      endpoint.ejectionTimer = null;
    }
    endpoint.outcomes().resetStreak();
  }
}
