package io.github.kubegrpclb.core;

import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.ConnectivityState;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer.Subchannel;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import javax.annotation.Nullable;

/**
 * The first stage of a balancer: its endpoints, one per address group, diffed on every address
 * update so that an unchanged endpoint keeps its connection, and cut to a deterministic subset when
 * subsetting is on ({@link SubsettingConfig}, {@link DeterministicSubset}). It creates no
 * subchannel itself: the balancer's factory does, and shuts down what {@link #update} removed.
 *
 * <p>Not thread-safe: used in the balancer's SynchronizationContext.
 *
 * @param <T> the policy's per-endpoint state
 */
final class EndpointSet<T> {
  /** What an address update changed, in address order. */
  record Diff<T>(List<Endpoint<T>> added, List<Endpoint<T>> removed) {}

  private final Map<List<SocketAddress>, Endpoint<T>> endpoints = new LinkedHashMap<>();
  private final String policyName;
  private final ChannelLogger logger;
  private final Supplier<String> hostname;
  // The client index last logged; null before subsetting first ran.
  @Nullable private ClientIndex clientIndex;

  /**
   * @param hostname this pod's name, for subsetting without a configured client index
   */
  EndpointSet(String policyName, ChannelLogger logger, Supplier<String> hostname) {
    this.policyName = policyName;
    this.logger = logger;
    this.hostname = hostname;
  }

  /** The endpoints, in address order: a live view. */
  Collection<Endpoint<T>> all() {
    return endpoints.values();
  }

  int size() {
    return endpoints.size();
  }

  /** Whether {@code endpoint} is the current endpoint of its addresses (not one removed). */
  boolean isCurrent(Endpoint<?> endpoint) {
    return endpoints.get(endpoint.group().getAddresses()) == endpoint;
  }

  /** The endpoint whose subchannel is {@code subchannel}, or null: O(n), for tests. */
  @Nullable
  Endpoint<T> find(Subchannel subchannel) {
    for (Endpoint<T> endpoint : endpoints.values()) {
      if (endpoint.subchannel() == subchannel) {
        return endpoint;
      }
    }
    return null;
  }

  /** Whether {@code endpoint} is one of the current endpoints, in TRANSIENT_FAILURE. */
  boolean isFailed(@Nullable Endpoint<?> endpoint) {
    return endpoint != null
        && endpoint.state() == ConnectivityState.TRANSIENT_FAILURE
        && isCurrent(endpoint);
  }

  /**
   * The failed endpoint a TRANSIENT_FAILURE picker names: {@code named} while it stays failed, else
   * the last failed one in address order ({@code named} when none is).
   */
  @Nullable
  Endpoint<T> failedToName(@Nullable Endpoint<T> named) {
    if (isFailed(named)) {
      return named;
    }
    Endpoint<T> last = named;
    for (Endpoint<T> endpoint : endpoints.values()) {
      if (endpoint.state() == ConnectivityState.TRANSIENT_FAILURE) {
        last = endpoint;
      }
    }
    return last;
  }

  /**
   * Applies an address update: endpoints whose addresses are gone are removed (the caller shuts
   * them down), new ones are created by {@code create}, which must {@linkplain #put put} each
   * before it starts its subchannel, and kept ones take their new group (attributes may change).
   */
  Diff<T> update(
      List<EquivalentAddressGroup> groups,
      SubsettingConfig subsetting,
      Attributes resolution,
      Function<EquivalentAddressGroup, Endpoint<T>> create) {
    Map<List<SocketAddress>, EquivalentAddressGroup> next = new LinkedHashMap<>();
    for (EquivalentAddressGroup group : groups) {
      next.putIfAbsent(group.getAddresses(), group);
    }
    if (subsetting.enabled() && next.size() > subsetting.subsetSize) {
      next = subset(next, subsetting, resolution);
    }
    List<Endpoint<T>> removed = new ArrayList<>();
    Iterator<Map.Entry<List<SocketAddress>, Endpoint<T>>> it = endpoints.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<List<SocketAddress>, Endpoint<T>> entry = it.next();
      if (!next.containsKey(entry.getKey())) {
        removed.add(entry.getValue());
        it.remove();
      }
    }
    List<Endpoint<T>> added = new ArrayList<>();
    for (Map.Entry<List<SocketAddress>, EquivalentAddressGroup> entry : next.entrySet()) {
      Endpoint<T> existing = endpoints.get(entry.getKey());
      if (existing != null) {
        existing.updateGroup(entry.getValue());
      } else {
        added.add(create.apply(entry.getValue()));
      }
    }
    return new Diff<>(added, removed);
  }

  /** Adds a new endpoint; called by the factory given to {@link #update}. */
  void put(Endpoint<T> endpoint) {
    endpoints.put(endpoint.group().getAddresses(), endpoint);
  }

  /** Removes every endpoint and returns them (the caller shuts them down). */
  List<Endpoint<T>> clear() {
    List<Endpoint<T>> all = new ArrayList<>(endpoints.values());
    endpoints.clear();
    return all;
  }

  private Map<List<SocketAddress>, EquivalentAddressGroup> subset(
      Map<List<SocketAddress>, EquivalentAddressGroup> all,
      SubsettingConfig config,
      Attributes resolution) {
    ClientIndex client = ClientIndex.resolve(config, resolution, hostname.get());
    if (!client.equals(clientIndex)) {
      clientIndex = client;
      logger.log(
          ChannelLogger.ChannelLogLevel.INFO,
          "{0}: subsetting {1} endpoints as client {2}, from {3}",
          policyName,
          config.subsetSize,
          client.describe(),
          client.source());
    }
    // Ready endpoints first (Kubernetes' rule: terminating ones serve only while no ready one
    // can): a subset drawn over every endpoint while many terminate can hold terminating pods
    // only (19 of 200 clients, 40 pods with 20 terminating, subset 4: issue 25). The subset is
    // drawn among the ready ones; only when there are fewer than subsetSize are terminating ones
    // added, drawn the same way, to fill it.
    List<EquivalentAddressGroup> ready = new ArrayList<>(all.size());
    List<EquivalentAddressGroup> terminating = new ArrayList<>();
    for (EquivalentAddressGroup group : all.values()) {
      (EndpointAttributes.conditionOf(group) == EndpointCondition.READY ? ready : terminating)
          .add(group);
    }
    Map<List<SocketAddress>, EquivalentAddressGroup> chosen = new LinkedHashMap<>();
    for (EquivalentAddressGroup group :
        DeterministicSubset.select(ready, Math.min(config.subsetSize, ready.size()), client)) {
      chosen.put(group.getAddresses(), group);
    }
    int missing = config.subsetSize - chosen.size();
    if (missing > 0 && !terminating.isEmpty()) {
      for (EquivalentAddressGroup group :
          DeterministicSubset.select(terminating, Math.min(missing, terminating.size()), client)) {
        chosen.put(group.getAddresses(), group);
      }
    }
    return chosen;
  }
}
