package io.github.kubegrpclb.testing.fleet;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import java.net.InetSocketAddress;
import java.util.Random;
import java.util.Set;

/**
 * One simulated pod: its address, zone, latency model and whether the network lets anyone reach it.
 * Also what the harness expects of it (sick since when, ramping since when). Mutated only by the
 * simulation's thread.
 */
final class SimPod {
  enum Reach {
    /** Accepts connections and answers as its model says. */
    SERVING,
    /** Process gone: connections refused, open ones reset. */
    DOWN,
    /** Black-holed: nothing arrives, nothing is refused. */
    PARTITIONED
  }

  final int id;
  final String zone;
  final InetSocketAddress address;
  LatencyModel model;
  Reach reach = Reach.SERVING;
  long servedSinceStart;

  /** When the harness considers it sick (an RPC to it after detection is a violation), or -1. */
  long sickSinceNanos = -1;

  /** Detection time the harness allows once it is sick. */
  long detectionNanos;

  /** A flapping pod: excluded from fair shares, never counted sick. */
  boolean unstable;

  /** Whether its next READY is a restart joining a serving fleet (slow start applies). */
  boolean rampOnNextReady;

  /** When its expected slow-start ramp began, or -1. */
  long rampStartNanos = -1;

  /** When it last entered the resolver's endpoint set; -1 while not in it. */
  long inSetSinceNanos = -1;

  /** When the balancer last saw it READY (its live connection), or -1 while not READY. */
  long readySinceNanos = -1;

  /** Its own latency draws: the same seed gives it the same latencies whatever the policy. */
  final Random latency;

  /** Its own network timing draws (connect, reconnect backoff, GOAWAY times). */
  final Random network;

  SimPod(int id, String zone, LatencyModel model, Random latency, Random network) {
    this.id = id;
    this.zone = zone;
    this.model = model;
    this.latency = latency;
    this.network = network;
    this.address =
        new InetSocketAddress(
            "10." + (id >> 16 & 255) + "." + (id >> 8 & 255) + "." + (id & 255), 50051);
  }

  EquivalentAddressGroup group(FleetPolicy policy) {
    Attributes attributes =
        zone == null
            ? Attributes.EMPTY
            : Attributes.newBuilder().set(policy.zoneHints(), Set.of(zone)).build();
    return new EquivalentAddressGroup(address, attributes);
  }

  boolean isSick() {
    return sickSinceNanos >= 0;
  }

  /** Makes it sick from {@code nowNanos}, allowing {@code detectionNanos} to notice. */
  void sicken(LatencyModel sickModel, long nowNanos, long detectionNanos) {
    model = sickModel;
    sickSinceNanos = nowNanos;
    this.detectionNanos = detectionNanos;
  }

  @Override
  public String toString() {
    return "pod-" + id + (zone == null ? "" : "@" + zone);
  }
}
