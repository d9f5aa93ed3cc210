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
import java.util.Map;
import java.util.Set;

/**
 * The model {@code SubsettingSimulation} measures: a fleet of clients over a list of backends, each
 * client's current subset, the connections the last update opened and closed, and the connections
 * per backend. A client is a real balancer from the registry ({@code kube_round_robin} with {@code
 * subsetting}, or grpc-java's {@code random_subsetting_experimental}) driven by a fake Helper, so
 * only public API is exercised. Not thread-safe: one thread builds and drives a fleet.
 */
final class SubsettingFleet {
  final ClientFactory factory;
  final List<Client> clients = new ArrayList<>();
  final List<Set<String>> subsets = new ArrayList<>();
  List<EquivalentAddressGroup> backends;
  long opened;
  long closed;

  SubsettingFleet(ClientFactory factory, int clientCount, List<EquivalentAddressGroup> backends) {
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

  static List<EquivalentAddressGroup> backends(int from, int to) {
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    for (int i = from; i < to; i++) {
      groups.add(
          new EquivalentAddressGroup(
              new InetSocketAddress("10.1." + (i >> 8 & 255) + "." + (i & 255), 8080)));
    }
    return groups;
  }
}
