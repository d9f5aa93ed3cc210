package io.github.kubegrpclb.core;

import static io.grpc.ConnectivityState.CONNECTING;
import static io.grpc.ConnectivityState.IDLE;
import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.EndpointGroups;
import io.github.kubegrpclb.testing.FakeHelper;
import io.grpc.Attributes;
import io.grpc.ConnectivityState;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancer.ResolvedAddresses;
import io.grpc.LoadBalancer.Subchannel;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The rotation kept up to date one state change at a time is the one Kubernetes' serving and
 * topology rules give when recomputed from scratch over every endpoint: random state changes and
 * address updates (conditions, zone and node hints, client zone and node), checked after each step
 * against a plain model of the rules (the balancer's pre-incremental code).
 */
class RotationListsTest {
  private static final int POOL = 12;
  private static final ConnectivityState[] STATES = {IDLE, CONNECTING, READY, TRANSIENT_FAILURE};

  static Stream<BiFunction<FakeHelper, Random, LoadBalancer>> policies() {
    return Stream.of(
        (helper, random) -> KubeRoundRobinPolicy.balancer(helper, random::nextInt),
        (helper, random) -> PeakEwmaPolicy.balancer(helper, System::nanoTime, random::nextInt));
  }

  /** What the test knows of one endpoint: its group and the balancer's (sticky) view of it. */
  private static final class Model {
    EquivalentAddressGroup group;
    ConnectivityState state = IDLE;
  }

  @ParameterizedTest
  @MethodSource("policies")
  void randomChangesOneAtATime_rotationMatchesTheRulesRecomputedFromScratch(
      BiFunction<FakeHelper, Random, LoadBalancer> policy) {
    for (int seed = 1; seed <= 20; seed++) {
      Random random = new Random(seed);
      FakeHelper helper = new FakeHelper();
      LoadBalancer balancer = policy.apply(helper, new Random(seed));
      Map<List<SocketAddress>, Model> live = new LinkedHashMap<>();
      String[] client = new String[2]; // zone, node
      try {
        for (int step = 0; step < 300; step++) {
          if (live.isEmpty() || random.nextInt(12) == 0) {
            update(helper, balancer, random, live, client);
          } else {
            Model model = new ArrayList<>(live.values()).get(random.nextInt(live.size()));
            ConnectivityState state = STATES[random.nextInt(STATES.length)];
            deliver(helper, model, state);
          }
          helper.checkNoErrors();
          assertMatchesRules(helper, live, client[0], client[1], "seed " + seed + " step " + step);
        }
      } finally {
        helper.run(balancer::shutdown);
      }
    }
  }

  private static void deliver(FakeHelper helper, Model model, ConnectivityState state) {
    helper.subchannelFor(model.group).deliver(state);
    if (state != TRANSIENT_FAILURE && model.state == TRANSIENT_FAILURE && state != READY) {
      return; // TRANSIENT_FAILURE is sticky until READY
    }
    model.state = state;
  }

  /** A random subset of the pool, each with a random condition and hints; a random client. */
  private static void update(
      FakeHelper helper,
      LoadBalancer balancer,
      Random random,
      Map<List<SocketAddress>, Model> live,
      String[] client) {
    boolean zoneHints = random.nextInt(4) != 0;
    boolean nodeHints = random.nextInt(3) == 0;
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    for (int i = 0; i < POOL; i++) {
      if (random.nextInt(3) == 0) {
        continue;
      }
      String zone = "zone-" + random.nextInt(3);
      String node = "node-" + random.nextInt(4);
      EndpointCondition condition =
          random.nextInt(5) == 0 ? EndpointCondition.TERMINATING_SERVING : EndpointCondition.READY;
      groups.add(
          new EquivalentAddressGroup(
              EndpointGroups.endpoint(i).getAddresses(),
              EndpointAttributes.of(
                  condition,
                  zone,
                  zoneHints || random.nextInt(10) == 0 ? Set.of(zone) : Set.of(),
                  nodeHints ? Set.of(node) : Set.of())));
    }
    if (groups.isEmpty()) {
      groups.add(EndpointGroups.endpoint(0));
    }
    client[0] = random.nextInt(4) == 0 ? null : "zone-" + random.nextInt(3);
    client[1] = random.nextInt(2) == 0 ? null : "node-" + random.nextInt(4);
    Attributes.Builder attributes = Attributes.newBuilder();
    if (client[0] != null) {
      attributes.set(EndpointAttributes.CLIENT_ZONE, client[0]);
    }
    if (client[1] != null) {
      attributes.set(EndpointAttributes.CLIENT_NODE, client[1]);
    }
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                ResolvedAddresses.newBuilder()
                    .setAddresses(groups)
                    .setAttributes(attributes.build())
                    .build()));
    Map<List<SocketAddress>, Model> next = new LinkedHashMap<>();
    for (EquivalentAddressGroup group : groups) {
      Model model = live.getOrDefault(group.getAddresses(), new Model());
      model.group = group;
      next.put(group.getAddresses(), model);
    }
    live.clear();
    live.putAll(next);
  }

  private static void assertMatchesRules(
      FakeHelper helper,
      Map<List<SocketAddress>, Model> live,
      String clientZone,
      String clientNode,
      String when) {
    List<Model> connected = new ArrayList<>();
    boolean connecting = false;
    boolean readyConnecting = false;
    for (Model model : live.values()) {
      if (model.state == READY) {
        connected.add(model);
      } else if (model.state == IDLE || model.state == CONNECTING) {
        connecting = true;
        readyConnecting |= EndpointAttributes.conditionOf(model.group) == EndpointCondition.READY;
      }
    }
    List<Model> rotation = rotation(connected, readyConnecting, clientZone, clientNode);
    ConnectivityState expected =
        !rotation.isEmpty() ? READY : connecting ? CONNECTING : TRANSIENT_FAILURE;
    assertThat(helper.state()).as(when).isEqualTo(expected);
    if (expected != READY) {
      return;
    }
    Set<Subchannel> expectedSubchannels = new HashSet<>();
    for (Model model : rotation) {
      expectedSubchannels.add(helper.subchannelFor(model.group));
    }
    LoadBalancer.SubchannelPicker picker = helper.picker();
    List<Subchannel> picked =
        picker instanceof PeakEwmaPicker peakEwma
            ? peakEwma.subchannels()
            : ((KubeRoundRobinPolicy.Picker) picker).subchannels();
    assertThat(picked).as(when).doesNotHaveDuplicates();
    assertThat(new HashSet<>(picked)).as(when).isEqualTo(expectedSubchannels);
  }

  /** The serving and topology rules over every connected endpoint, as kube-proxy applies them. */
  private static List<Model> rotation(
      List<Model> connected, boolean readyConnecting, String clientZone, String clientNode) {
    List<Model> ready = new ArrayList<>();
    for (Model model : connected) {
      if (EndpointAttributes.conditionOf(model.group) == EndpointCondition.READY) {
        ready.add(model);
      }
    }
    if (ready.isEmpty()) {
      return readyConnecting ? List.of() : connected;
    }
    for (String[] preference : new String[][] {{clientNode, "node"}, {clientZone, "zone"}}) {
      if (preference[0] == null) {
        continue;
      }
      List<Model> local = new ArrayList<>();
      boolean everyHinted = true;
      for (Model model : ready) {
        Set<String> hints =
            model
                .group
                .getAttributes()
                .get(
                    preference[1].equals("node")
                        ? EndpointAttributes.NODE_HINTS
                        : EndpointAttributes.ZONE_HINTS);
        everyHinted &= hints != null && !hints.isEmpty();
        if (hints != null && hints.contains(preference[0])) {
          local.add(model);
        }
      }
      if (everyHinted && !local.isEmpty()) {
        return local;
      }
    }
    return ready;
  }
}
