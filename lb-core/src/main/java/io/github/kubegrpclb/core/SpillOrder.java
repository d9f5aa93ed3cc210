package io.github.kubegrpclb.core;

import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.function.IntSupplier;
import javax.annotation.Nullable;

/**
 * The order in which zone spill ({@link ZoneSpill}) lets other endpoints join one client's
 * rotation: same zone first (when the preference was the node), then by a rendezvous hash of the
 * client's identity and the endpoint's address, so different clients spill to different endpoints
 * and an endpoint that leaves moves only its own share. Not thread-safe: SynchronizationContext.
 */
final class SpillOrder {
  private final IntSupplier clientSeed;
  private boolean seeded;
  private int seed;

  /**
   * @param clientSeed this client's identity (read once, when first needed)
   */
  SpillOrder(IntSupplier clientSeed) {
    this.clientSeed = clientSeed;
  }

  /**
   * The first {@code count} of {@code rest} (indices into {@code ready}) in this client's order.
   */
  <T> List<Integer> first(
      EndpointList.Snapshot<T> ready, List<Integer> rest, @Nullable String clientZone, int count) {
    if (!seeded) {
      seeded = true;
      seed = clientSeed.getAsInt();
    }
    int n = rest.size();
    long[] keys = new long[ready.size()];
    for (int i : rest) {
      Endpoint<T> endpoint = ready.get(i);
      Set<String> hints = endpoint.group().getAttributes().get(EndpointAttributes.ZONE_HINTS);
      boolean sameZone = clientZone != null && hints != null && hints.contains(clientZone);
      long score =
          DeterministicSubset.mix(seed * 0x9E3779B97F4A7C15L + addressHash(endpoint)) >>> 1;
      keys[i] = sameZone ? score >>> 1 : score | Long.MIN_VALUE >>> 1;
    }
    List<Integer> order = new ArrayList<>(rest);
    order.sort(Comparator.comparingLong(i -> keys[i]));
    return order.subList(0, Math.min(count, n));
  }

  private static long addressHash(Endpoint<?> endpoint) {
    long h = 17;
    for (SocketAddress address : endpoint.group().getAddresses()) {
      h = h * 31 + address.hashCode();
    }
    return h;
  }
}
