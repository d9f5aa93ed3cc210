package io.github.kubegrpclb.testing;

import io.grpc.EquivalentAddressGroup;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * Address groups for balancer tests and benchmarks that need no server behind them: group {@code i}
 * is pod address {@code 10.a.b.c:50051} with {@code a.b.c} the low 24 bits of {@code i}, so groups
 * are distinct up to 2^24. Stateless.
 */
public final class EndpointGroups {
  private EndpointGroups() {}

  /** The address group of endpoint {@code i}. */
  public static EquivalentAddressGroup endpoint(int i) {
    return new EquivalentAddressGroup(
        new InetSocketAddress(
            "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255), 50051));
  }

  /** Groups {@code from} (inclusive) to {@code to} (exclusive), in order. */
  public static List<EquivalentAddressGroup> endpoints(int from, int to) {
    List<EquivalentAddressGroup> groups = new ArrayList<>(Math.max(0, to - from));
    for (int i = from; i < to; i++) {
      groups.add(endpoint(i));
    }
    return groups;
  }
}
