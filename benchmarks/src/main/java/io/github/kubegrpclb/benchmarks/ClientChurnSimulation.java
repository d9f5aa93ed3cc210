package io.github.kubegrpclb.benchmarks;

import static io.github.kubegrpclb.benchmarks.SubsettingFleet.backends;
import static io.github.kubegrpclb.benchmarks.SubsettingSimulation.APERTURE;
import static io.github.kubegrpclb.benchmarks.SubsettingSimulation.SRE;

import io.github.kubegrpclb.benchmarks.SubsettingFleet.Ours;
import io.grpc.EquivalentAddressGroup;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * The client-pod churn section of {@code SubsettingSimulation}: connections moved when client pods
 * join or leave (scale up, Deployment and StatefulSet rolling updates), with the client index taken
 * from the pod's position in its Service or from a stable ordinal. Pod names are seeded, so the
 * table is the same on every run. Not thread-safe: {@link #report} runs on one thread.
 */
final class ClientChurnSimulation {
  private ClientChurnSimulation() {}

  /*
   * The resolver's client index is the pod's position among the sorted pod names of its own
   * Service: a client pod added or removed shifts the index of every pod sorted after it. With SRE
   * subsets a shifted client's subset is re-dealt (indexes i and i + 1 hold disjoint slices); with
   * the aperture (the resolver publishes the count too) its arc moves by a fraction of a backend.
   * Modeled here: Deployment pods named <deployment>-<ReplicaSet hash>-<5 random characters>.
   */
  static String report() {
    StringBuilder md = new StringBuilder();
    md.append("## Subsetting: connections moved when client pods change (300 clients x 300")
        .append(" backends, k 30)\n\n")
        .append("The client index from the pod's position among the pods of its own Service")
        .append(" (`kubernetes:///` with a client Service): a pod added or removed shifts the")
        .append(" index of every pod sorted after it, and changes the client count. SRE subsets")
        .append(" (index only) re-deal each shifted client's subset; the deterministic aperture")
        .append(" (index and count, as `kubernetes:///` publishes them) moves each client's arc by")
        .append(" a fraction of a backend. A stable index (configured, or a StatefulSet ordinal)")
        .append(" with SRE subsets moves only the joining or leaving client's own connections.")
        .append(" Deployment pod names: `<deployment>-<ReplicaSet hash>-<5 random characters>`,")
        .append(" seeded; a rolling update adds one new pod, then removes one old pod, 300 times;")
        .append(" a StatefulSet rolling update replaces web-299 .. web-0, one at a time.")
        .append(" Connections of the joining and leaving clients included.\n\n")
        .append("| event | client index | subsetting | closed | opened |\n")
        .append("|---|---|---|---|---|\n");
    Random random = new Random(20);
    Map<String, Set<String>> subsets = new HashMap<>(); // by algorithm, index, count
    List<String> old = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      old.add(podName("web-7d4b9c8f6", random));
    }
    long[][] scaleUps = new long[2][2];
    int names = 100;
    for (int n = 0; n < names; n++) {
      List<String> scaledUp = addOne(old, podName("web-7d4b9c8f6", random));
      for (int a = 0; a < 2; a++) {
        long[] event = clientEvent(subsets, byPosition(old), byPosition(scaledUp), a == 1);
        scaleUps[a][0] += event[0];
        scaleUps[a][1] += event[1];
      }
    }
    for (int a = 0; a < 2; a++) {
      md.append(
          row(
              "1 client pod added (scale up; mean over " + names + " random names)",
              "position in its Service",
              a == 1,
              new long[] {scaleUps[a][0] / names, scaleUps[a][1] / names}));
    }
    Map<String, Integer> ordinals = new HashMap<>();
    for (int i = 0; i < 300; i++) {
      ordinals.put("web-" + i, i);
    }
    Map<String, Integer> oneMore = new HashMap<>(ordinals);
    oneMore.put("web-300", 300);
    md.append(
        row(
            "1 client pod added (scale up)",
            "stable (StatefulSet ordinal)",
            false,
            clientEvent(subsets, ordinals, oneMore, false)));
    md.append(
        row(
            "1 client pod added (scale up)",
            "position in its Service (StatefulSet)",
            true,
            clientEvent(subsets, ranks(ordinals), ranks(oneMore), true)));
    for (String newHash : new String[] {"web-85f6d7c9b", "web-5c7f9d8b4"}) {
      List<String> now = new ArrayList<>(old);
      long[][] total = new long[2][2];
      for (int i = 0; i < 300; i++) {
        List<String> surged = addOne(now, podName(newHash, random));
        List<String> next = new ArrayList<>(surged);
        next.remove(old.get(i));
        for (int a = 0; a < 2; a++) {
          long[] step = clientEvent(subsets, byPosition(now), byPosition(surged), a == 1);
          long[] step2 = clientEvent(subsets, byPosition(surged), byPosition(next), a == 1);
          total[a][0] += step[0] + step2[0];
          total[a][1] += step[1] + step2[1];
        }
        now = next;
      }
      String order = newHash.compareTo("web-7d4b9c8f6") > 0 ? "after" : "before";
      for (int a = 0; a < 2; a++) {
        md.append(
            row(
                "client rolling update, new pods sort " + order + " the old (300 steps)",
                "position in its Service",
                a == 1,
                total[a]));
      }
    }
    // A StatefulSet replaces pod web-i by a new web-i (same ordinal): it leaves, then joins.
    long[][] total = new long[2][2];
    for (int i = 299; i >= 0; i--) {
      Map<String, Integer> without = new HashMap<>(ordinals);
      without.remove("web-" + i);
      long[] leave = clientEvent(subsets, ordinals, without, false);
      long[] join = clientEvent(subsets, without, ordinals, false);
      long[] leaveAperture = clientEvent(subsets, ranks(ordinals), ranks(without), true);
      long[] joinAperture = clientEvent(subsets, ranks(without), ranks(ordinals), true);
      total[0][0] += leave[0] + join[0];
      total[0][1] += leave[1] + join[1];
      total[1][0] += leaveAperture[0] + joinAperture[0];
      total[1][1] += leaveAperture[1] + joinAperture[1];
    }
    md.append(
        row("client rolling update (300 steps)", "stable (StatefulSet ordinal)", false, total[0]));
    md.append(
        row(
            "client rolling update (300 steps)",
            "position in its Service (StatefulSet)",
            true,
            total[1]));
    return md.append("\n").toString();
  }

  /** StatefulSet pods (name to ordinal) to their positions among the pods present. */
  private static Map<String, Integer> ranks(Map<String, Integer> ordinals) {
    List<Map.Entry<String, Integer>> sorted = new ArrayList<>(ordinals.entrySet());
    sorted.sort(Map.Entry.comparingByValue());
    Map<String, Integer> positions = new HashMap<>();
    for (int i = 0; i < sorted.size(); i++) {
      positions.put(sorted.get(i).getKey(), i);
    }
    return positions;
  }

  private static String podName(String prefix, Random random) {
    String alphabet = "bcdfghjklmnpqrstvwxz2456789"; // the ReplicaSet controller's
    StringBuilder name = new StringBuilder(prefix).append('-');
    for (int i = 0; i < 5; i++) {
      name.append(alphabet.charAt(random.nextInt(alphabet.length())));
    }
    return name.toString();
  }

  private static List<String> addOne(List<String> pods, String pod) {
    List<String> more = new ArrayList<>(pods);
    more.add(pod);
    return more;
  }

  /** Each pod's index: its position among the sorted names. */
  private static Map<String, Integer> byPosition(List<String> pods) {
    List<String> sorted = new ArrayList<>(pods);
    sorted.sort(null);
    Map<String, Integer> indexes = new HashMap<>();
    for (int i = 0; i < sorted.size(); i++) {
      indexes.put(sorted.get(i), i);
    }
    return indexes;
  }

  /**
   * {closed, opened} across the clients when the client pods (name to index) go from {@code before}
   * to {@code after}; with the aperture, each client also knows the number of pods.
   */
  private static long[] clientEvent(
      Map<String, Set<String>> subsets,
      Map<String, Integer> before,
      Map<String, Integer> after,
      boolean aperture) {
    List<EquivalentAddressGroup> servers = backends(0, 300);
    Map<String, Set<String>> was = subsetsByPod(subsets, servers, before, aperture);
    Map<String, Set<String>> now = subsetsByPod(subsets, servers, after, aperture);
    long closed = 0;
    long opened = 0;
    for (Map.Entry<String, Set<String>> entry : was.entrySet()) {
      Set<String> next = now.getOrDefault(entry.getKey(), Set.of());
      closed += entry.getValue().stream().filter(b -> !next.contains(b)).count();
    }
    for (Map.Entry<String, Set<String>> entry : now.entrySet()) {
      Set<String> prev = was.getOrDefault(entry.getKey(), Set.of());
      opened += entry.getValue().stream().filter(b -> !prev.contains(b)).count();
    }
    return new long[] {closed, opened};
  }

  private static Map<String, Set<String>> subsetsByPod(
      Map<String, Set<String>> subsets,
      List<EquivalentAddressGroup> servers,
      Map<String, Integer> indexes,
      boolean aperture) {
    int count = indexes.size();
    Map<String, Set<String>> byPod = new HashMap<>();
    indexes.forEach(
        (pod, index) ->
            byPod.put(
                pod,
                subsets.computeIfAbsent(
                    aperture ? "aperture " + index + "/" + count : "sre " + index,
                    key -> subset(servers, index, count, aperture))));
    return byPod;
  }

  private static Set<String> subset(
      List<EquivalentAddressGroup> servers, int index, int count, boolean aperture) {
    Ours client = new Ours(index, 30, aperture);
    client.clientCount(count);
    try {
      return client.update(servers);
    } finally {
      client.shutdown();
    }
  }

  private static String row(String event, String index, boolean aperture, long[] closedOpened) {
    return String.format(
        Locale.ROOT,
        "| %s | %s | %s | %,d | %,d |%n",
        event,
        index,
        aperture ? APERTURE : SRE,
        closedOpened[0],
        closedOpened[1]);
  }
}
