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
 * same number of clients without any coordination beyond each client's index. Stateless.
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
   */
  private DeterministicSubset() {}

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

  /** MurmurHash3's 64-bit finalizer (fmix64). */
  private static long mix(long h) {
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb93fe1a85ec3L;
    h ^= h >>> 33;
    return h;
  }
}
