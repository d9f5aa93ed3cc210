package io.github.kubegrpclb.examples;

import io.github.kubegrpclb.core.LbDebug;
import io.github.kubegrpclb.endpointslice.EndpointSliceOptions;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The local demo: four "pods" (real gRPC servers on 127.0.0.11..14, one port) and one client
 * channel per scenario, printing per-pod RPC counts and p50/p99 latency. Shows the ClusterIP
 * hotspot (one connection, one pod), per-RPC round robin, and peak EWMA steering around a slow pod.
 * Run it with {@code mvn -B -q -Pdemo -DskipTests package} from the repository root.
 */
public final class LocalDemo {
  static final int PODS = 4;
  static final int RPCS = 4000;
  static final int THREADS = 4;

  private LocalDemo() {}

  /** Prints the table; the optional argument is the RPCs per scenario (default {@value #RPCS}). */
  public static void main(String[] args) {
    List<Row> rows = run(args.length > 0 ? Integer.parseInt(args[0]) : RPCS);
    System.out.println();
    System.out.println(format(rows));
    System.out.println(
        "pick_first pins every RPC to the one pod its connection reached (what a ClusterIP does);"
            + "\nkube_round_robin spreads them per RPC; peak_ewma sends little to the slow pod.");
    System.out.println();
    System.out.println("Why: peak_ewma's view at the end of its run (LbDebug.snapshot()):");
    System.out.println(lastSnapshot);
  }

  /** What LbDebug showed at the end of the last scenario, before its channel closed. */
  static volatile String lastSnapshot = "";

  /** One scenario's outcome. */
  record Row(String scenario, List<Long> perPod, RpcLoad.Result result) {}

  /** Runs every scenario with {@code rpcs} RPCs each. */
  static List<Row> run(int rpcs) {
    List<Row> rows = new ArrayList<>();
    try (LoopbackPods pods = LoopbackPods.start(PODS)) {
      LoopbackPod first = pods.get(0);
      rows.add(
          scenario(
              "one channel, one address, pick_first (ClusterIP)",
              pods,
              rpcs,
              p ->
                  Grpc.newChannelBuilderForAddress(
                          first.address().getAddress().getHostAddress(),
                          first.address().getPort(),
                          InsecureChannelCredentials.create())
                      .build()));
      rows.add(
          scenario("kube_round_robin, all pods", pods, rpcs, p -> channel(p, "kube_round_robin")));
      try (TestDnsServer dns = TestDnsServer.start()) {
        dns.setA(HOST, 5, ips(pods));
        rows.add(
            scenario(
                "headless:/// (DNS server on loopback)",
                pods,
                rpcs,
                p ->
                    Grpc.newChannelBuilder(
                            "headless://" + dns.authority() + "/" + HOST + ":" + p.port(),
                            InsecureChannelCredentials.create())
                        .build()));
      }
      try (MockKubernetesApi api = new MockKubernetesApi()) {
        List<MockKubernetesApi.Pod> endpoints = new ArrayList<>();
        pods.all().forEach(pod -> endpoints.add(MockKubernetesApi.Pod.ready(pod)));
        api.apply(
            MockKubernetesApi.slice(
                "my-svc-a",
                Map.of("grpc", pods.port()),
                endpoints.toArray(MockKubernetesApi.Pod[]::new)));
        rows.add(
            scenario(
                "kubernetes:/// (mock Kubernetes API)",
                pods,
                rpcs,
                p ->
                    Grpc.newChannelBuilder(
                            "kubernetes:///my-svc.my-ns:grpc", InsecureChannelCredentials.create())
                        .setNameResolverArg(
                            EndpointSliceOptions.KEY,
                            EndpointSliceOptions.builder().client(api.client()).build())
                        .build()));
      }
      LoopbackPod slow = pods.get(PODS - 1);
      slow.setLatency(Duration.ofMillis(50));
      rows.add(
          scenario(
              "kube_round_robin, " + slow.name() + " +50 ms",
              pods,
              rpcs,
              p -> channel(p, "kube_round_robin")));
      rows.add(
          scenario(
              "peak_ewma, " + slow.name() + " +50 ms", pods, rpcs, p -> channel(p, "peak_ewma")));
    }
    return rows;
  }

  private static final String HOST = "my-svc.my-ns.svc.cluster.local";

  private static String[] ips(LoopbackPods pods) {
    return pods.all().stream()
        .map(pod -> pod.address().getAddress().getHostAddress())
        .toArray(String[]::new);
  }

  private static ManagedChannel channel(LoopbackPods pods, String policy) {
    return new ManualNameResolverProvider(pods.addressGroups())
        .channelBuilder()
        .defaultServiceConfig(ServiceConfigs.policy(policy))
        .build();
  }

  private static Row scenario(
      String name, LoopbackPods pods, int rpcs, Function<LoopbackPods, ManagedChannel> factory) {
    ManagedChannel channel = factory.apply(pods);
    try {
      RpcLoad.run(channel, 200, THREADS, CallOptions.DEFAULT.withWaitForReady()); // warm up
      RpcLoad.Result result =
          RpcLoad.run(channel, rpcs, THREADS, CallOptions.DEFAULT.withWaitForReady());
      lastSnapshot = LbDebug.snapshot();
      List<Long> perPod = new ArrayList<>();
      for (LoopbackPod pod : pods.all()) {
        perPod.add(result.served(pod.name()));
      }
      return new Row(name, perPod, result);
    } finally {
      channel.shutdownNow();
      try {
        channel.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The rows as a fixed-width text table. */
  static String format(List<Row> rows) {
    StringBuilder table = new StringBuilder();
    String header = String.format(Locale.ROOT, "%-48s", "scenario");
    for (int i = 0; i < PODS; i++) {
      header += String.format(Locale.ROOT, " %7s", "pod-" + i);
    }
    header += String.format(Locale.ROOT, " %9s %9s %6s", "p50 ms", "p99 ms", "failed");
    table.append(header).append('\n').append("-".repeat(header.length())).append('\n');
    for (Row row : rows) {
      table.append(String.format(Locale.ROOT, "%-48s", row.scenario()));
      for (long count : row.perPod()) {
        table.append(String.format(Locale.ROOT, " %7d", count));
      }
      table.append(
          String.format(
              Locale.ROOT,
              " %9.2f %9.2f %6d%n",
              millis(row.result().latencyPercentile(0.50)),
              millis(row.result().latencyPercentile(0.99)),
              row.result().failures()));
    }
    return table.toString();
  }

  private static double millis(Duration duration) {
    return duration.toNanos() / 1e6;
  }
}
