package io.github.kubegrpclb.benchmarks;

import io.github.kubegrpclb.testing.FakeHelper;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import io.grpc.NameResolver.ConfigOrError;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Subsetting without a network: N clients over M backends, connections per backend and connections
 * moved by scale events, for our deterministic subsetting (as the policies apply it: the SRE book's
 * subsets with a client index only, the deterministic aperture with the client count too) and
 * grpc-java's {@code random_subsetting_experimental} (gRFC A68) in the same run. Both are the real
 * balancers from the registry, configured through their JSON config, one instance per client,
 * driven by a fake Helper: only public API. Single-threaded.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * io.github.kubegrpclb.benchmarks.SubsettingSimulation} (about a minute); prints Markdown.
 */
public final class SubsettingSimulation {
  private SubsettingSimulation() {}

  public static void main(String[] args) {
    System.out.print(report());
  }

  /** One client's subset of the current backends; keeps state across updates. */
  interface Client {
    Set<String> update(List<EquivalentAddressGroup> backends);

    /** The fleet now has {@code count} clients; true when that may change this client's subset. */
    default boolean clientCount(int count) {
      return false;
    }
  }

  /**
   * Our deterministic subsetting as a policy applies it: {@code kube_round_robin} from the
   * registry, one real balancer per client driven by a fake Helper, configured with {@code
   * subsetting} (its {@code clientIndex}, and with the aperture its {@code clientCount}); the
   * subset is the set of subchannels it keeps.
   */
  static final class Ours implements Client {
    private final FakeHelper helper = new FakeHelper();
    private final LoadBalancerProvider provider =
        LoadBalancerRegistry.getDefaultRegistry().getProvider("kube_round_robin");
    private final LoadBalancer balancer = provider.newLoadBalancer(helper);
    private final int index;
    private final int size;
    private final boolean aperture;
    private int count;

    /** With {@code aperture}, the client also knows the client count ({@link #clientCount}). */
    Ours(int index, int size, boolean aperture) {
      this.index = index;
      this.size = size;
      this.aperture = aperture;
    }

    @Override
    public boolean clientCount(int count) {
      this.count = count;
      return aperture;
    }

    @Override
    public Set<String> update(List<EquivalentAddressGroup> backends) {
      Map<String, Object> subsetting = new HashMap<>();
      subsetting.put("subsetSize", (double) size);
      subsetting.put("clientIndex", (double) index);
      if (aperture) {
        subsetting.put("clientCount", (double) count);
      }
      ConfigOrError parsed =
          provider.parseLoadBalancingPolicyConfig(Map.of("subsetting", subsetting));
      if (parsed.getError() != null) {
        throw new IllegalStateException(parsed.getError().toString());
      }
      helper.run(
          () ->
              balancer.acceptResolvedAddresses(
                  LoadBalancer.ResolvedAddresses.newBuilder()
                      .setAddresses(backends)
                      .setLoadBalancingPolicyConfig(parsed.getConfig())
                      .build()));
      return addresses(helper);
    }

    /** Releases the balancer's subchannels. */
    void shutdown() {
      helper.run(balancer::shutdown);
    }
  }

  /** The first address of every subchannel {@code helper} has live. */
  static Set<String> addresses(FakeHelper helper) {
    Set<String> subset = new HashSet<>();
    for (FakeHelper.FakeSubchannel subchannel : helper.liveSubchannels()) {
      subset.add(subchannel.getAddresses().getAddresses().get(0).toString());
    }
    return subset;
  }

  /** grpc-java's random_subsetting_experimental over round_robin, through the registry. */
  static final class GrpcRandom implements Client {
    private final FakeHelper helper = new FakeHelper();
    private final LoadBalancer balancer;
    private final Object config;

    GrpcRandom(int size) {
      LoadBalancerProvider provider =
          LoadBalancerRegistry.getDefaultRegistry().getProvider("random_subsetting_experimental");
      ConfigOrError parsed =
          provider.parseLoadBalancingPolicyConfig(
              Map.of(
                  "subsetSize",
                  (double) size,
                  "childPolicy",
                  List.of(Map.of("round_robin", Map.of()))));
      if (parsed.getError() != null) {
        throw new IllegalStateException(parsed.getError().toString());
      }
      config = parsed.getConfig();
      balancer = provider.newLoadBalancer(helper);
    }

    @Override
    public Set<String> update(List<EquivalentAddressGroup> backends) {
      helper.run(
          () ->
              balancer.acceptResolvedAddresses(
                  LoadBalancer.ResolvedAddresses.newBuilder()
                      .setAddresses(backends)
                      .setLoadBalancingPolicyConfig(config)
                      .build()));
      return addresses(helper);
    }
  }

  interface ClientFactory {
    Client create(int index);
  }

  /** A fleet of clients, their current subsets, and what the last update moved. */
  static final class Fleet {
    final ClientFactory factory;
    final List<Client> clients = new ArrayList<>();
    final List<Set<String>> subsets = new ArrayList<>();
    List<EquivalentAddressGroup> backends;
    long opened;
    long closed;

    Fleet(ClientFactory factory, int clientCount, List<EquivalentAddressGroup> backends) {
      this.factory = factory;
      this.backends = backends;
      resizeClients(clientCount);
    }

    /** Adds or removes the last clients; a client that knows the count may move too. */
    void resizeClients(int count) {
      opened = 0;
      closed = 0;
      int before = clients.size();
      while (clients.size() > count) {
        clients.remove(clients.size() - 1);
        closed += subsets.remove(subsets.size() - 1).size();
      }
      while (clients.size() < count) {
        clients.add(factory.create(clients.size()));
        subsets.add(Set.of());
      }
      for (int i = 0; i < count; i++) {
        if (clients.get(i).clientCount(count) || i >= before) {
          move(i, clients.get(i).update(backends));
        }
      }
    }

    private void move(int client, Set<String> after) {
      Set<String> before = subsets.get(client);
      for (String b : after) {
        if (!before.contains(b)) {
          opened++;
        }
      }
      for (String b : before) {
        if (!after.contains(b)) {
          closed++;
        }
      }
      subsets.set(client, after);
    }

    void updateBackends(List<EquivalentAddressGroup> next) {
      backends = next;
      opened = 0;
      closed = 0;
      for (int i = 0; i < clients.size(); i++) {
        move(i, clients.get(i).update(next));
      }
    }

    /** Connections per backend: {min, max, mean}. */
    double[] spread() {
      Map<String, Integer> perBackend = new HashMap<>();
      for (EquivalentAddressGroup b : backends) {
        perBackend.put(b.getAddresses().get(0).toString(), 0);
      }
      long total = 0;
      for (Set<String> subset : subsets) {
        for (String b : subset) {
          perBackend.merge(b, 1, Integer::sum);
          total++;
        }
      }
      int min = Integer.MAX_VALUE;
      int max = 0;
      for (int count : perBackend.values()) {
        min = Math.min(min, count);
        max = Math.max(max, count);
      }
      return new double[] {min, max, (double) total / perBackend.size()};
    }
  }

  static List<EquivalentAddressGroup> backends(int from, int to) {
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    for (int i = from; i < to; i++) {
      groups.add(
          new EquivalentAddressGroup(
              new InetSocketAddress("10.1." + (i >> 8 & 255) + "." + (i & 255), 8080)));
    }
    return groups;
  }

  private static final String SRE = "deterministic, SRE book (ours, index only)";
  private static final String APERTURE = "deterministic aperture (ours, index and count)";
  private static final String[] NAMES = {
    SRE, APERTURE, "random_subsetting_experimental (grpc-java)"
  };

  private static Fleet[] fleets(int clients, int servers, int size) {
    List<EquivalentAddressGroup> initial = backends(0, servers);
    return new Fleet[] {
      new Fleet(i -> new Ours(i, size, false), clients, initial),
      new Fleet(i -> new Ours(i, size, true), clients, initial),
      new Fleet(i -> new GrpcRandom(size), clients, initial)
    };
  }

  /** The Markdown sections, for {@code ScenarioBenchmark}. */
  public static String report() {
    StringBuilder md = new StringBuilder();
    md.append("## Subsetting: connections per backend (simulation, no network)\n\n")
        .append("`SubsettingSimulation`: N clients, M backends, subset size k; ours is")
        .append(" `DeterministicSubset` as both policies apply it (client indexes 0..N-1): the SRE")
        .append(" book's subsets when only the index is known, the deterministic aperture when the")
        .append(" client count N is known too (`kubernetes:///` with a client Service); the")
        .append(" baseline is grpc-java's `random_subsetting_experimental` (grpc-util, gRFC A68),")
        .append(" one real balancer per client, in the same run. SRE book anchor (random")
        .append(" subsetting, 300 x 300, k 30): least-loaded 63 %, most-loaded 121 % of the")
        .append(" mean.\n\n")
        .append("| clients x backends, k | subsetting | min / mean | max / mean | max / min |\n")
        .append("|---|---|---|---|---|\n");
    int[][] shapes = {{300, 300, 30}, {1000, 1000, 30}, {1000, 300, 10}, {305, 300, 30}};
    for (int[] shape : shapes) {
      Fleet[] fleets = fleets(shape[0], shape[1], shape[2]);
      for (int f = 0; f < fleets.length; f++) {
        double[] s = fleets[f].spread();
        md.append(
            String.format(
                Locale.ROOT,
                "| %,d x %,d, %d | %s | %.0f %% | %.0f %% | %.2f |%n",
                shape[0],
                shape[1],
                shape[2],
                NAMES[f],
                100 * s[0] / s[2],
                100 * s[1] / s[2],
                s[1] / s[0]));
      }
    }
    md.append("\n").append(churn()).append(clientChurn());
    return md.toString();
  }

  /*
   * The resolver's client index is the pod's position among the sorted pod names of its own
   * Service: a client pod added or removed shifts the index of every pod sorted after it. With SRE
   * subsets a shifted client's subset is re-dealt (indexes i and i + 1 hold disjoint slices); with
   * the aperture (the resolver publishes the count too) its arc moves by a fraction of a backend.
   * Modeled here: Deployment pods named <deployment>-<ReplicaSet hash>-<5 random characters>.
   */
  private static String clientChurn() {
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
    java.util.Random random = new java.util.Random(20);
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

  private static String podName(String prefix, java.util.Random random) {
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

  private static String churn() {
    StringBuilder md = new StringBuilder();
    md.append("## Subsetting: connections moved per scale event (300 clients x 300 backends,")
        .append(" k 30)\n\n")
        .append("Connections closed (each replaced by one opened elsewhere) across the fleet, and")
        .append(" max / min connections per backend after the event. Lower bound: a removed")
        .append(" backend's 30 connections must move; an added one needs 30 to be level. Client")
        .append(" events include the joining or leaving client's own connections (30 or 31); the")
        .append(" aperture moves the others' arcs by a fraction of a backend.\n\n")
        .append("| event | subsetting | closed | opened | max / min after |\n")
        .append("|---|---|---|---|---|\n");
    String[] events = {
      "1 backend added (300 -> 301)",
      "1 backend removed (301 -> 300)",
      "1 backend replaced (rolling update step)",
      "every backend replaced, one at a time (300 steps)",
      "backends +10 % (300 -> 330, subsets per round 10 -> 11)",
      "clients +10 % (300 -> 330)",
      "1 client added (300 -> 301, index 300)",
      "1 client removed (300 -> 299, index 299)"
    };
    for (int e = 0; e < events.length; e++) {
      Fleet[] fleets = fleets(300, 300, 30);
      for (int f = 0; f < fleets.length; f++) {
        Fleet fleet = fleets[f];
        long closed = 0;
        long opened = 0;
        switch (e) {
          case 0 -> {
            fleet.updateBackends(backends(0, 301));
            closed = fleet.closed;
            opened = fleet.opened;
          }
          case 1 -> {
            fleet.updateBackends(backends(0, 301));
            fleet.updateBackends(backends(0, 300));
            closed = fleet.closed;
            opened = fleet.opened;
          }
          case 2 -> {
            List<EquivalentAddressGroup> next = backends(0, 300);
            next.set(150, backends(1000, 1001).get(0));
            fleet.updateBackends(next);
            closed = fleet.closed;
            opened = fleet.opened;
          }
          case 3 -> {
            List<EquivalentAddressGroup> next = backends(0, 300);
            for (int i = 0; i < 300; i++) {
              next.set(i, backends(1000 + i, 1001 + i).get(0));
              fleet.updateBackends(new ArrayList<>(next));
              closed += fleet.closed;
              opened += fleet.opened;
            }
          }
          case 4 -> {
            fleet.updateBackends(backends(0, 330));
            closed = fleet.closed;
            opened = fleet.opened;
          }
          case 5 -> {
            fleet.resizeClients(330);
            closed = fleet.closed;
            opened = fleet.opened;
          }
          case 6 -> {
            fleet.resizeClients(301);
            closed = fleet.closed;
            opened = fleet.opened;
          }
          default -> {
            fleet.resizeClients(299);
            closed = fleet.closed;
            opened = fleet.opened;
          }
        }
        double[] s = fleet.spread();
        md.append(
            String.format(
                Locale.ROOT,
                "| %s | %s | %,d | %,d | %.2f |%n",
                events[e],
                NAMES[f],
                closed,
                opened,
                s[1] / s[0]));
      }
    }
    return md.append("\n").toString();
  }
}
