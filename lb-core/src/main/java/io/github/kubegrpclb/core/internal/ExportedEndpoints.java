package io.github.kubegrpclb.core.internal;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.MeterProvider;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The endpoint limit's memory: the distinct endpoint values one meter provider ever exported per
 * channel ({@code target} and {@code policy} attributes), so that rollouts cannot grow the series
 * without bound. Thread-safe: balancers of any channel admit endpoints concurrently.
 */
final class ExportedEndpoints {
  /*
   * Distinct endpoint values ever exported, per meter provider and (target, policy). With
   * cumulative temporality a series lives in the SDK, and in the backend, for as long as the
   * provider does, whether or not its endpoint still exists: counting endpoints alive at once let
   * every rollout add new values (10 rollouts of 10 pods, limit 20: 100 values, issue 25). So the
   * limit bounds the distinct values exported for a target over the provider's life, across
   * balancers (idle mode makes new ones) and channels to the same target: an address seen before
   * keeps its series; a new one gets its own while fewer than the limit were ever exported, and
   * is counted under _other once they are used up. Weak keys: a provider that goes away takes its
   * values with it.
   */
  private static final Map<MeterProvider, Map<Attributes, Set<String>>> BY_PROVIDER =
      new WeakHashMap<>();

  private final Map<Attributes, Set<String>> byChannel;
  private final int limit;

  private ExportedEndpoints(Map<Attributes, Set<String>> byChannel, int limit) {
    this.byChannel = byChannel;
    this.limit = limit;
  }

  /** The values {@code provider} exported so far, under a limit of {@code limit} per channel. */
  static ExportedEndpoints of(MeterProvider provider, int limit) {
    Map<Attributes, Set<String>> byChannel;
    synchronized (BY_PROVIDER) {
      byChannel = BY_PROVIDER.computeIfAbsent(provider, unused -> new ConcurrentHashMap<>());
    }
    return new ExportedEndpoints(byChannel, limit);
  }

  /** The limit of distinct values per channel, which also bounds one balancer's own. */
  int limit() {
    return limit;
  }

  /**
   * Whether {@code address} may have series of its own under {@code channel}: it had them before,
   * or fewer than the limit of distinct values were ever exported there (and it takes one).
   */
  boolean admit(Attributes channel, String address) {
    Set<String> exported = byChannel.computeIfAbsent(channel, unused -> new HashSet<>());
    synchronized (exported) {
      if (exported.contains(address)) {
        return true;
      }
      if (exported.size() >= limit) {
        return false;
      }
      exported.add(address);
      return true;
    }
  }
}
