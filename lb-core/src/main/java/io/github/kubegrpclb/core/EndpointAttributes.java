package io.github.kubegrpclb.core;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import java.util.Objects;
import java.util.Set;
import javax.annotation.Nullable;

/**
 * The endpoint model shared by this library's resolvers and balancers: attribute keys that a
 * resolver sets on each {@link EquivalentAddressGroup} (one group per pod) and on the resolution
 * result, and that {@code kube_round_robin} and {@code peak_ewma} read.
 *
 * <p>An address group without these attributes (for example one from grpc-java's {@code dns:///})
 * is treated as a {@link EndpointCondition#READY} endpoint with no zone. All values are immutable;
 * this class is safe to use from any thread.
 */
public final class EndpointAttributes {

  /** Per endpoint: its serving condition. Absent means {@link EndpointCondition#READY}. */
  public static final Attributes.Key<EndpointCondition> CONDITION =
      Attributes.Key.create("io.github.kubegrpclb.endpoint.condition");

  /** Per endpoint: the zone the pod runs in ({@code topology.kubernetes.io/zone}), if known. */
  public static final Attributes.Key<String> ZONE =
      Attributes.Key.create("io.github.kubegrpclb.endpoint.zone");

  /**
   * Per endpoint: the zones this endpoint should serve ({@code hints.forZones}), an immutable set;
   * absent or empty when the Service has no topology hints.
   */
  public static final Attributes.Key<Set<String>> ZONE_HINTS =
      Attributes.Key.create("io.github.kubegrpclb.endpoint.zone-hints");

  /**
   * Per endpoint: the nodes this endpoint should serve ({@code hints.forNodes}, published for
   * {@code trafficDistribution: PreferSameNode} since Kubernetes 1.33), an immutable set; absent or
   * empty when the Service has no node hints.
   */
  public static final Attributes.Key<Set<String>> NODE_HINTS =
      Attributes.Key.create("io.github.kubegrpclb.endpoint.node-hints");

  /**
   * Per resolution result: the node this client runs on. When set, and every in-rotation endpoint
   * carries node hints, balancers prefer the endpoints hinted for this node, as kube-proxy does for
   * {@code PreferSameNode}; while none of those is connected they fall back to the zone preference
   * ({@link #CLIENT_ZONE}), then to every endpoint.
   */
  public static final Attributes.Key<String> CLIENT_NODE =
      Attributes.Key.create("io.github.kubegrpclb.client.node");

  /**
   * Per resolution result: the zone of this client. When set, and every in-rotation endpoint
   * carries zone hints, balancers prefer the endpoints hinted for this zone, as Kubernetes
   * topology-aware routing does, and use all zones while the local zone has no ready endpoint.
   */
  public static final Attributes.Key<String> CLIENT_ZONE =
      Attributes.Key.create("io.github.kubegrpclb.client.zone");

  /**
   * Per resolution result: this client's index among the clients of the Service it calls (0, 1,
   * ...), for example its position among the pods of its own Service, which {@code kubernetes:///}
   * sets when told that Service ({@code EndpointSliceOptions.Builder.clientService}). Deterministic
   * subsetting gives N clients with indexes 0..N-1 an exact spread; without it a policy falls back
   * to the pod-name ordinal or a host-name hash (see the policies' {@code subsetting} option).
   */
  public static final Attributes.Key<Integer> CLIENT_INDEX =
      Attributes.Key.create("io.github.kubegrpclb.client.index");

  /**
   * Per resolution result: how many clients share the Service this client calls, the N of {@link
   * #CLIENT_INDEX}'s 0..N-1 (for {@code kubernetes:///}, the pods of the client's own Service). Set
   * with {@code CLIENT_INDEX}, deterministic subsetting uses Finagle's deterministic aperture: a
   * client joining or leaving, which shifts the index of every later client by one, then moves
   * about one connection per client instead of re-dealing their subsets.
   */
  public static final Attributes.Key<Integer> CLIENT_COUNT =
      Attributes.Key.create("io.github.kubegrpclb.client.count");

  /**
   * Per resolution result: the resolver's explanation of the endpoint set, e.g. why it is empty
   * ({@code "my-svc.my-ns.svc.cluster.local: NXDOMAIN (no ready pod?)"}). Balancers put it in the
   * status of failed RPCs.
   */
  public static final Attributes.Key<String> RESOLUTION_NOTE =
      Attributes.Key.create("io.github.kubegrpclb.resolution.note");

  private EndpointAttributes() {}

  /**
   * Returns the attributes for one endpoint.
   *
   * @param condition the endpoint's serving condition
   * @param zone the endpoint's zone, or null when unknown
   * @param zoneHints the zones the endpoint is hinted for; empty when the Service has no hints
   */
  public static Attributes of(
      EndpointCondition condition, @Nullable String zone, Set<String> zoneHints) {
    Objects.requireNonNull(condition, "condition");
    Objects.requireNonNull(zoneHints, "zoneHints");
    Attributes.Builder builder =
        Attributes.newBuilder().set(CONDITION, condition).set(ZONE_HINTS, Set.copyOf(zoneHints));
    if (zone != null) {
      builder.set(ZONE, zone);
    }
    return builder.build();
  }

  /**
   * Returns the attributes for one endpoint with node hints.
   *
   * @param condition the endpoint's serving condition
   * @param zone the endpoint's zone, or null when unknown
   * @param zoneHints the zones the endpoint is hinted for; empty when the Service has no hints
   * @param nodeHints the nodes the endpoint is hinted for; empty when the Service has none
   */
  public static Attributes of(
      EndpointCondition condition,
      @Nullable String zone,
      Set<String> zoneHints,
      Set<String> nodeHints) {
    Objects.requireNonNull(condition, "condition");
    Objects.requireNonNull(zoneHints, "zoneHints");
    Objects.requireNonNull(nodeHints, "nodeHints");
    Attributes.Builder builder =
        Attributes.newBuilder().set(CONDITION, condition).set(ZONE_HINTS, Set.copyOf(zoneHints));
    if (!nodeHints.isEmpty()) {
      builder.set(NODE_HINTS, Set.copyOf(nodeHints)); // absent means none
    }
    if (zone != null) {
      builder.set(ZONE, zone);
    }
    return builder.build();
  }

  /** Returns the condition of {@code group}, {@link EndpointCondition#READY} when unset. */
  public static EndpointCondition conditionOf(EquivalentAddressGroup group) {
    EndpointCondition condition = group.getAttributes().get(CONDITION);
    return condition == null ? EndpointCondition.READY : condition;
  }

  /** Returns the node hints of {@code group}, empty when unset. */
  public static Set<String> nodeHintsOf(EquivalentAddressGroup group) {
    Set<String> hints = group.getAttributes().get(NODE_HINTS);
    return hints == null ? Set.of() : hints;
  }

  /** Returns the zone hints of {@code group}, empty when unset. */
  public static Set<String> zoneHintsOf(EquivalentAddressGroup group) {
    Set<String> hints = group.getAttributes().get(ZONE_HINTS);
    return hints == null ? Set.of() : hints;
  }
}
