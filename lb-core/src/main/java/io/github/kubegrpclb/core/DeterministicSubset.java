package io.github.kubegrpclb.core;

import io.grpc.EquivalentAddressGroup;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Chooses the endpoints one client connects to out of a large set, so that every endpoint gets the
 * same number of clients without any coordination beyond each client's index (and, when known, the
 * number of clients). Stateless.
 */
final class DeterministicSubset {
  /*
   * Deterministic subsetting, Google SRE book, chapter 20 ("Load Balancing in the Datacenter",
   * https://sre.google/sre-book/load-balancing-datacenter/): the M backends are shuffled once per
   * "round" with the round number as seed; a round serves S = M / size clients, client i takes
   * subset (i mod S) of round (i / S). Every client of a complete round holds a disjoint slice, so
   * each round adds exactly one connection to every backend.
   *
   * Two changes, both to keep balance and reduce churn:
   * - The shuffle orders backends by a 64-bit hash of (round, address) instead of Fisher-Yates
   *   over the list: an added or removed pod then only shifts the slices after its position by
   *   one (each client whose slice shifted replaces one connection), where a list shuffle re-deals
   *   every slice.
   * - The S slices of a round cover all M backends (M / S or M / S + 1 each), where the book drops
   *   the M mod size leftovers of each round: complete rounds then leave every backend with
   *   exactly the same number of clients, and an incomplete last round adds at most one.
   * Clients joining or leaving never move another client's subset. When M crosses a multiple of
   * size, S changes and every client is re-dealt: one full reshuffle per `size` backends added.
   *
   * When the client count C is known, the deterministic aperture instead (Finagle,
   * "Deterministic Aperture", https://twitter.github.io/finagle/guide/ApertureLoadBalancers.html):
   * clients and backends sit on two rings of circumference 1, client i on [i/C, (i+1)/C), backend j
   * (in key-hash order) on [j/M, (j+1)/M). Client i's aperture is the arc [i/C, i/C + size/M) and it
   * connects to every backend whose arc overlaps it: size or size + 1 of them. A backend is
   * overlapped by the clients starting in a window of length (size + 1)/M, so every backend gets
   * C(size+1)/M clients within one. An index or count changing by one moves each aperture by at
   * most max(1, M/C) backend arcs, not a re-deal: about one connection per client. Finagle widens
   * the aperture to at least 1/C so that C * size < M still covers every backend; we keep the
   * subset size asked for (one client then takes size backends, not all). Arithmetic is exact in
   * units of 1/(C * M).
   */
  private DeterministicSubset() {}

  /**
   * Returns the subset of {@code groups} (already free of duplicates) for {@code client}: the
   * deterministic aperture when its count is known, else the SRE book's subsets; all of {@code
   * groups} when {@code size >= } their count.
   */
  static List<EquivalentAddressGroup> select(
      List<EquivalentAddressGroup> groups, int size, ClientIndex client) {
    if (!client.countKnown()) {
      return select(groups, size, client.index());
    }
    int m = groups.size();
    if (size >= m) {
      return groups;
    }
    long[] hashes = new long[m];
    for (int i = 0; i < m; i++) {
      hashes[i] = keyHash(groups.get(i));
    }
    int[] aperture = apertureOf(hashes, size, client.index(), client.count());
    List<EquivalentAddressGroup> subset = new ArrayList<>(aperture.length);
    for (int index : aperture) {
      subset.add(groups.get(index));
    }
    return subset;
  }

  /**
   * Returns the indexes (into {@code keyHashes}) of the backends in the deterministic aperture of
   * client {@code clientIndex} of {@code clientCount}, in ring order. An index at or past the count
   * wraps around the ring (index C is where index 0 is), so a momentarily stale count never fails.
   *
   * @param keyHashes one stable 64-bit hash per backend, the same in every client
   * @param clientCount the number of clients, at least 1
   */
  static int[] apertureOf(long[] keyHashes, int size, long clientIndex, int clientCount) {
    if (clientCount < 1) {
      throw new IllegalArgumentException("clientCount " + clientCount + " (expected: >= 1)");
    }
    int m = keyHashes.length;
    if (size >= m) {
      int[] all = new int[m];
      Arrays.setAll(all, i -> i);
      return all;
    }
    Integer[] ring = new Integer[m];
    for (int i = 0; i < m; i++) {
      ring[i] = i;
    }
    Arrays.sort(
        ring,
        (a, b) -> {
          int byHash = Long.compare(keyHashes[a], keyHashes[b]);
          return byHash != 0 ? byHash : Integer.compare(a, b);
        });
    long c = clientCount;
    // In units of 1/(C * M): client i starts at i * M, a backend arc is C long.
    long start = Math.floorMod(clientIndex, c) * m;
    long end = start + size * c; // exclusive
    long first = start / c;
    long last = (end - 1) / c;
    int count = (int) Math.min(m, last - first + 1);
    int[] aperture = new int[count];
    for (int k = 0; k < count; k++) {
      aperture[k] = ring[(int) ((first + k) % m)];
    }
    return aperture;
  }

  /**
   * Returns the subset of {@code groups} (already free of duplicates) for client {@code
   * clientIndex}, in hash order of its round; all of {@code groups} when {@code size >= } their
   * count.
   */
  static List<EquivalentAddressGroup> select(
      List<EquivalentAddressGroup> groups, int size, long clientIndex) {
    int m = groups.size();
    if (size >= m) {
      return groups;
    }
    long[] hashes = new long[m];
    for (int i = 0; i < m; i++) {
      hashes[i] = keyHash(groups.get(i));
    }
    int[] slice = sliceOf(hashes, size, clientIndex);
    List<EquivalentAddressGroup> subset = new ArrayList<>(slice.length);
    for (int index : slice) {
      subset.add(groups.get(index));
    }
    return subset;
  }

  /**
   * Returns the indexes (into {@code keyHashes}) of client {@code clientIndex}'s subset.
   *
   * @param keyHashes one stable 64-bit hash per backend, the same in every client
   */
  static int[] sliceOf(long[] keyHashes, int size, long clientIndex) {
    int m = keyHashes.length;
    if (size >= m) {
      int[] all = new int[m];
      Arrays.setAll(all, i -> i);
      return all;
    }
    int subsetsPerRound = m / size;
    long round = clientIndex / subsetsPerRound;
    int subset = (int) (clientIndex % subsetsPerRound);
    long seed = mix(round * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L);
    long[] order = new long[m];
    for (int i = 0; i < m; i++) {
      order[i] = mix(keyHashes[i] ^ seed);
    }
    Integer[] ranked = new Integer[m];
    for (int i = 0; i < m; i++) {
      ranked[i] = i;
    }
    Arrays.sort(
        ranked,
        (a, b) -> {
          int byOrder = Long.compare(order[a], order[b]);
          return byOrder != 0 ? byOrder : Long.compare(keyHashes[a], keyHashes[b]);
        });
    // The first (m mod S) slices take one endpoint more. Boundaries then move only for the
    // slices between the first longer-or-shorter one and the change: at most one connection
    // per client changes when one endpoint comes or goes (a proportional split moves two).
    int base = m / subsetsPerRound;
    int longer = m % subsetsPerRound;
    int from = subset * base + Math.min(subset, longer);
    int to = from + base + (subset < longer ? 1 : 0);
    int[] slice = new int[to - from];
    for (int i = from; i < to; i++) {
      slice[i - from] = ranked[i];
    }
    return slice;
  }

  /** A hash of the endpoint's first address that every client computes the same way. */
  static long keyHash(EquivalentAddressGroup group) {
    return keyHash(key(group.getAddresses().get(0)));
  }

  /** FNV-1a over the UTF-8 bytes, then a finalizer: stable across JVMs and runs. */
  static long keyHash(String key) {
    long h = 0xcbf29ce484222325L;
    for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    return mix(h);
  }

  private static String key(SocketAddress address) {
    if (address instanceof InetSocketAddress inet) {
      if (inet.getAddress() != null) {
        return inet.getAddress().getHostAddress() + ":" + inet.getPort();
      }
      return inet.getHostString() + ":" + inet.getPort();
    }
    return address.toString();
  }

  /**
   * MurmurHash3's 64-bit finalizer (fmix64): this package's one 64-bit mixer (zone spill's order
   * uses it too).
   */
  static long mix(long h) {
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb93fe1a85ec3L;
    h ^= h >>> 33;
    return h;
  }
}
