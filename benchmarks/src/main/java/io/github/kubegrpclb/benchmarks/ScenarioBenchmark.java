package io.github.kubegrpclb.benchmarks;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;
import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.terminating;

import io.github.kubegrpclb.endpointslice.EndpointSliceOptions;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.ServiceConfigs;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The scenario benchmark: the field report's scenario table, measured with real loopback pods, a
 * real DNS server and the mock Kubernetes API. Prints Markdown and writes it to {@code
 * docs/benchmarks.md} (or the path given). Every number comes with its same-run baseline.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * io.github.kubegrpclb.benchmarks.ScenarioBenchmark docs/benchmarks.md} (about 5 minutes).
 */
public final class ScenarioBenchmark {
  private static final CallOptions WAIT = CallOptions.DEFAULT.withWaitForReady();
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";

  private ScenarioBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args.length > 0 ? args[0] : "docs/benchmarks.md");
    StringBuilder md = new StringBuilder();
    md.append("# Benchmarks\n\n")
        .append("Measured on ")
        .append(LocalDate.now())
        .append(" on a 2-core CI-class machine with `ScenarioBenchmark` (see the README for how to")
        .append(" run it). Machines here are noisy, so every figure is read against a baseline")
        .append(" measured in the same run.\n\n");
    md.append(hotspot());
    md.append(throughput());
    md.append(dialPerRequest());
    md.append(degradedPod());
    md.append(SickPodScenarios.markdown());
    md.append(RoutingQualityScenarios.markdown());
    md.append(ZoneSpillScenarios.markdown());
    md.append(DiscoveryLagScenarios.markdown());
    md.append(rollingReplacement());
    md.append(StreamRebalancingScenario.section());
    md.append(SubsettingSimulation.report());
    md.append(ApiServerCost.report());
    Files.writeString(out, md.toString());
    System.out.println(md);
    System.exit(0); // gRPC's shared Netty threads would keep the JVM up a while
  }

  // ---- scenarios ----

  static String hotspot() {
    try (LoopbackPods pods = LoopbackPods.start(4)) {
      LoopbackPod first = pods.get(0);
      RpcLoad.Result pinned;
      ManagedChannel single =
          Grpc.newChannelBuilderForAddress(
                  "127.0.0.11", first.address().getPort(), InsecureChannelCredentials.create())
              .build();
      try {
        pinned = RpcLoad.run(single, 4000, 4, WAIT);
      } finally {
        ScenarioSupport.close(single);
      }
      RpcLoad.Result balanced = runPolicy(pods, "kube_round_robin", 4000, 4);
      return "## Hotspot: one connection vs per-RPC balancing (4 pods, 4,000 RPCs)\n\n"
          + "| client | "
          + String.join(" | ", names(pods))
          + " | busiest pod's share |\n|---|"
          + "---|".repeat(pods.size() + 1)
          + "\n"
          + row("one channel, pick_first (ClusterIP)", pods, pinned)
          + row("kube_round_robin", pods, balanced)
          + "\n";
    }
  }

  static String throughput() {
    String[] policies = {"round_robin", "kube_round_robin", "peak_ewma"};
    double[] rate = new double[policies.length];
    try (LoopbackPods pods = LoopbackPods.start(4)) {
      for (int round = 0; round < 3; round++) { // interleaved rounds: the machine is noisy
        for (int p = 0; p < policies.length; p++) {
          long start = System.nanoTime();
          RpcLoad.Result result = runPolicy(pods, policies[p], 20_000, 4);
          double perSecond = result.succeeded() / ((System.nanoTime() - start) / 1e9);
          rate[p] = Math.max(rate[p], perSecond);
        }
      }
    }
    StringBuilder md =
        new StringBuilder(
            "## End-to-end unary throughput (4 pods, 4 threads, best of 3 interleaved rounds"
                + " of 20,000 RPCs)\n\n| policy | RPCs/s | vs grpc-java round_robin |\n|---|---|---|\n");
    for (int p = 0; p < policies.length; p++) {
      md.append(
          String.format(
              Locale.ROOT, "| %s | %.0f | %.2f |%n", policies[p], rate[p], rate[p] / rate[0]));
    }
    return md.append("\n").toString();
  }

  static String dialPerRequest() {
    try (LoopbackPods pods = LoopbackPods.start(1)) {
      int port = pods.port();
      int calls = 300;
      long[] dial = new long[calls];
      for (int i = 0; i < calls; i++) {
        long start = System.nanoTime();
        ManagedChannel channel =
            Grpc.newChannelBuilderForAddress(
                    "127.0.0.11", port, InsecureChannelCredentials.create())
                .build();
        PodService.whoami(channel, WAIT);
        dial[i] = System.nanoTime() - start;
        channel.shutdownNow();
      }
      ManagedChannel pooled =
          Grpc.newChannelBuilderForAddress("127.0.0.11", port, InsecureChannelCredentials.create())
              .build();
      RpcLoad.Result reused;
      try {
        RpcLoad.run(pooled, 100, 1, WAIT);
        reused = RpcLoad.run(pooled, calls, 1, WAIT);
      } finally {
        ScenarioSupport.close(pooled);
      }
      Arrays.sort(dial);
      double dialP50 = ms(dial[calls / 2]);
      double dialP99 = ms(dial[(int) (calls * 0.99) - 1]);
      double poolP50 = ms(reused.latencyPercentile(0.5));
      double poolP99 = ms(reused.latencyPercentile(0.99));
      return "## Dial per request vs one pooled connection (loopback, 300 sequential RPCs)\n\n"
          + "| client | p50 ms | p99 ms |\n|---|---|---|\n"
          + String.format(Locale.ROOT, "| new channel per RPC | %.2f | %.2f |%n", dialP50, dialP99)
          + String.format(Locale.ROOT, "| one channel, reused | %.3f | %.3f |%n", poolP50, poolP99)
          + String.format(
              Locale.ROOT,
              "%nDialing per request costs %.0fx the pooled p50 even on loopback (no TLS, no"
                  + " network); the field report measured ~77 ms per call in a cluster.%n%n",
              dialP50 / poolP50);
    }
  }

  static String degradedPod() {
    try (LoopbackPods pods = LoopbackPods.start(5)) {
      runPolicy(pods, "kube_round_robin", 2000, 4); // JIT warm-up for the baseline
      RpcLoad.Result healthy = runPolicy(pods, "kube_round_robin", 5000, 4);
      LoopbackPod slow = pods.get(4);
      slow.setLatency(Duration.ofMillis(50));
      String[] policies = {"kube_round_robin", "least_request_experimental", "peak_ewma"};
      StringBuilder md =
          new StringBuilder(
              "## Degraded pod: 1 of 5 pods +50 ms (5,000 RPCs, 4 threads)\n\n"
                  + "| policy | p50 ms | p99 ms | p99 / healthy p99 | slow pod's share |\n"
                  + "|---|---|---|---|---|\n");
      double healthyP99 = ms(healthy.latencyPercentile(0.99));
      md.append(
          String.format(
              Locale.ROOT,
              "| kube_round_robin, all pods healthy (baseline) | %.2f | %.2f | 1.0 | - |%n",
              ms(healthy.latencyPercentile(0.5)),
              healthyP99));
      StringBuilder chart = new StringBuilder();
      double roundRobinP99 = 0;
      double ewmaP99 = 0;
      for (String policy : policies) {
        RpcLoad.Result result = runPolicy(pods, policy, 5000, 4);
        double p99 = ms(result.latencyPercentile(0.99));
        if (policy.equals("kube_round_robin")) {
          roundRobinP99 = p99;
        }
        if (policy.equals("peak_ewma")) {
          ewmaP99 = p99;
        }
        md.append(
            String.format(
                Locale.ROOT,
                "| %s | %.2f | %.2f | %.1f | %.1f %% |%n",
                policy,
                ms(result.latencyPercentile(0.5)),
                p99,
                p99 / healthyP99,
                100 * result.share(slow.name())));
        chart.append(String.format(Locale.ROOT, "%.1f, ", p99));
      }
      md.append(
          String.format(
              Locale.ROOT,
              "%npeak_ewma's p99 is %.1fx the healthy p99 and %.1fx better than round robin's.%n%n",
              ewmaP99 / healthyP99,
              roundRobinP99 / ewmaP99));
      md.append("```mermaid\nxychart-beta\n  title \"p99 latency (ms) with one slow pod\"\n")
          .append("  x-axis [\"kube_round_robin\", \"least_request\", \"peak_ewma\"]\n")
          .append("  y-axis \"ms\"\n  bar [")
          .append(chart.substring(0, chart.length() - 2))
          .append("]\n```\n\n");
      return md.toString();
    }
  }

  static String rollingReplacement() {
    StringBuilder md =
        new StringBuilder(
            "## Rolling replacement of every pod under load (3 pods, 4 threads, graceful"
                + " shutdown with GOAWAY)\n\n| resolver / policy | RPCs | failed |\n|---|---|---|\n");
    for (String policy : new String[] {"kube_round_robin", "peak_ewma"}) {
      md.append(rollEndpointSlice(policy));
    }
    md.append(rollDns());
    md.append("\n");
    return md.toString();
  }

  private static String rollEndpointSlice(String policy) {
    try (MockKubernetesApi api = new MockKubernetesApi();
        LoopbackPods pods = LoopbackPods.start(6)) {
      Map<String, Integer> ports = Map.of("grpc", pods.port());
      List<MockKubernetesApi.Pod> live =
          new ArrayList<>(List.of(ready(pods.get(0)), ready(pods.get(1)), ready(pods.get(2))));
      api.apply(MockKubernetesApi.slice("s", ports, live.toArray(MockKubernetesApi.Pod[]::new)));
      ManagedChannel channel = endpointSliceChannel(api, policy);
      try (RpcLoad load = RpcLoad.start(channel, 4, CallOptions.DEFAULT)) {
        awaitTrue(() -> load.snapshot().succeeded() > 500, Duration.ofSeconds(10));
        for (int i = 0; i < 3; i++) {
          LoopbackPod old = pods.get(i);
          LoopbackPod fresh = pods.get(3 + i);
          live.add(ready(fresh));
          live.set(i, terminating(old)); // SIGTERM: the pod turns serving + terminating
          api.apply(
              MockKubernetesApi.slice("s", ports, live.toArray(MockKubernetesApi.Pod[]::new)));
          awaitTrue(() -> fresh.served() > 0, Duration.ofSeconds(10));
          load.awaitNoTrafficTo(old, 200, Duration.ofSeconds(10));
          old.drain(); // after preStop: GOAWAY, in-flight RPCs finish
          live.remove(i);
          live.add(i, ready(fresh));
          live.remove(live.size() - 1);
          api.apply(
              MockKubernetesApi.slice("s", ports, live.toArray(MockKubernetesApi.Pod[]::new)));
        }
        long target = load.snapshot().succeeded() + 500;
        awaitTrue(() -> load.snapshot().succeeded() > target, Duration.ofSeconds(10));
        RpcLoad.Result result = load.snapshot();
        return String.format(
            Locale.ROOT,
            "| EndpointSlice watch / %s | %d | %d |%n",
            policy,
            result.succeeded() + result.failures(),
            result.failures());
      } finally {
        ScenarioSupport.close(channel);
      }
    }
  }

  private static String rollDns() {
    try (TestDnsServer dns = TestDnsServer.start();
        LoopbackPods pods = LoopbackPods.start(6)) {
      List<String> ips = new ArrayList<>(List.of("127.0.0.11", "127.0.0.12", "127.0.0.13"));
      dns.setA(HOST, 1, ips.toArray(String[]::new));
      ManagedChannel channel =
          Grpc.newChannelBuilder(
                  "headless://" + dns.authority() + "/" + HOST + ":" + pods.port(),
                  InsecureChannelCredentials.create())
              .build();
      try (RpcLoad load = RpcLoad.start(channel, 4, CallOptions.DEFAULT)) {
        awaitTrue(() -> load.snapshot().succeeded() > 500, Duration.ofSeconds(10));
        for (int i = 0; i < 3; i++) {
          LoopbackPod old = pods.get(i);
          LoopbackPod fresh = pods.get(3 + i);
          ips.set(i, fresh.address().getAddress().getHostAddress()); // old drops out of DNS
          dns.setA(HOST, 1, ips.toArray(String[]::new));
          awaitTrue(() -> fresh.served() > 0, Duration.ofSeconds(10));
          load.awaitNoTrafficTo(old, 200, Duration.ofSeconds(10));
          old.drain();
        }
        long target = load.snapshot().succeeded() + 500;
        awaitTrue(() -> load.snapshot().succeeded() > target, Duration.ofSeconds(10));
        RpcLoad.Result result = load.snapshot();
        return String.format(
            Locale.ROOT,
            "| headless DNS, TTL 1 s / kube_round_robin | %d | %d |%n",
            result.succeeded() + result.failures(),
            result.failures());
      } finally {
        ScenarioSupport.close(channel);
      }
    }
  }

  // ---- helpers ----

  private static ManagedChannel endpointSliceChannel(MockKubernetesApi api, String policy) {
    return Grpc.newChannelBuilder(
            "kubernetes:///my-svc.my-ns:grpc?policy=" + policy, InsecureChannelCredentials.create())
        .setNameResolverArg(
            EndpointSliceOptions.KEY, EndpointSliceOptions.builder().client(api.client()).build())
        .build();
  }

  private static RpcLoad.Result runPolicy(
      LoopbackPods pods, String policy, int calls, int threads) {
    ManagedChannel channel =
        new ManualNameResolverProvider(pods.addressGroups())
            .channelBuilder()
            .defaultServiceConfig(ServiceConfigs.policy(policy))
            .build();
    try {
      RpcLoad.run(channel, 200, threads, WAIT); // connect and warm up
      return RpcLoad.run(channel, calls, threads, WAIT);
    } finally {
      ScenarioSupport.close(channel);
    }
  }

  private static String row(String client, LoopbackPods pods, RpcLoad.Result result) {
    StringBuilder row = new StringBuilder("| ").append(client).append(" |");
    long max = 0;
    for (LoopbackPod pod : pods.all()) {
      long served = result.served(pod.name());
      max = Math.max(max, served);
      row.append(' ').append(served).append(" |");
    }
    return row.append(String.format(Locale.ROOT, " %.0f %% |%n", 100.0 * max / result.succeeded()))
        .toString();
  }

  private static List<String> names(LoopbackPods pods) {
    return pods.all().stream().map(LoopbackPod::name).toList();
  }

  /* A bounded wait on a condition, polled every millisecond. */
  private static void awaitTrue(BooleanSupplier condition, Duration timeout) {
    org.awaitility.Awaitility.await()
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(1))
        .until(condition::getAsBoolean);
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }

  private static double ms(Duration duration) {
    return duration.toNanos() / 1e6;
  }
}
