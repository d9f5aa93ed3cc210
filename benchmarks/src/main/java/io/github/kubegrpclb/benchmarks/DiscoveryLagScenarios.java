package io.github.kubegrpclb.benchmarks;

import static io.github.kubegrpclb.testing.MockKubernetesApi.Pod.ready;

import io.github.kubegrpclb.endpointslice.EndpointSliceOptions;
import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.awaitility.Awaitility;

/**
 * The discovery-lag rows of {@link ScenarioBenchmark}: from an endpoint change (a DNS answer, an
 * EndpointSlice update) to the first RPC the new pod serves, under 2 closed-loop callers with
 * fail-fast RPCs, kube_round_robin with slow start on (the default) and off, in the same run.
 */
public final class DiscoveryLagScenarios {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";
  private static final List<String> FIRST_PODS = List.of("pod-0", "pod-1");

  private DiscoveryLagScenarios() {}

  /** Prints only these rows (ScenarioBenchmark prints them with the rest). */
  public static void main(String[] args) {
    System.out.println(markdown());
    System.exit(0);
  }

  static String markdown() {
    StringBuilder md =
        new StringBuilder(
            "## Discovery lag: endpoint change to the first RPC served by the new pod\n\n"
                + "kube_round_robin, 2 callers, fail-fast RPCs; each sample adds one pod. Slow"
                + " start (on by default) then ramps the new pod's share over its 10 s window, by"
                + " design (`SlowStartTest`): these rows measure when discovery is done, not when"
                + " the pod has its full share.\n\n"
                + "| resolver | slow start | samples | p50 ms | max ms | failed RPCs |\n"
                + "|---|---|---|---|---|---|\n");
    for (boolean slowStart : new boolean[] {true, false}) {
      md.append(dnsLag(slowStart));
    }
    for (boolean slowStart : new boolean[] {true, false}) {
      md.append(endpointSliceLag(slowStart));
    }
    md.append(
        "\ngrpc-java's own `dns:///` never re-resolves on its own: on our machines a 4th pod got"
            + " 0 of ~420,000 RPCs in 60 s. With a DNS TTL of 30 s, the headless resolver's lag is"
            + " bounded by the TTL (it re-queries when it expires).\n\n");
    return md.toString();
  }

  private static String dnsLag(boolean slowStart) {
    int samples = 8;
    long[] lags = new long[samples];
    long failures;
    try (TestDnsServer dns = TestDnsServer.start();
        LoopbackPods pods = LoopbackPods.start(2 + samples)) {
      List<String> ips = new ArrayList<>();
      ips.add("127.0.0.11");
      ips.add("127.0.0.12");
      dns.setA(HOST, 1, ips.toArray(String[]::new));
      ManagedChannel channel =
          Grpc.newChannelBuilder(
                  "headless://"
                      + dns.authority()
                      + "/"
                      + HOST
                      + ":"
                      + pods.port()
                      + "?policy=channel",
                  InsecureChannelCredentials.create())
              .defaultServiceConfig(serviceConfig(slowStart))
              .build();
      try {
        ChannelReadiness.awaitEveryPod(channel, FIRST_PODS);
        try (RpcLoad load = RpcLoad.start(channel, 2, CallOptions.DEFAULT)) {
          for (int i = 0; i < samples; i++) {
            LoopbackPod added = pods.get(2 + i);
            ips.add(added.address().getAddress().getHostAddress());
            long start = System.nanoTime();
            dns.setA(HOST, 1, ips.toArray(String[]::new));
            awaitServed(load, added);
            lags[i] = System.nanoTime() - start;
          }
          failures = load.snapshot().failures();
        }
      } finally {
        ScenarioSupport.close(channel);
      }
    }
    return row("headless DNS (`headless:///`), TTL 1 s", slowStart, lags, failures);
  }

  private static String endpointSliceLag(boolean slowStart) {
    int samples = 20;
    int warmups = 3;
    long[] lags = new long[samples];
    long failures;
    try (MockKubernetesApi api = new MockKubernetesApi();
        LoopbackPods pods = LoopbackPods.start(2 + warmups + samples)) {
      Map<String, Integer> ports = Map.of("grpc", pods.port());
      List<MockKubernetesApi.Pod> endpoints = new ArrayList<>();
      endpoints.add(ready(pods.get(0)));
      endpoints.add(ready(pods.get(1)));
      api.apply(
          MockKubernetesApi.slice("s", ports, endpoints.toArray(MockKubernetesApi.Pod[]::new)));
      ManagedChannel channel =
          Grpc.newChannelBuilder(
                  "kubernetes:///my-svc.my-ns:grpc?policy=channel",
                  InsecureChannelCredentials.create())
              .setNameResolverArg(
                  EndpointSliceOptions.KEY,
                  EndpointSliceOptions.builder().client(api.client()).build())
              .defaultServiceConfig(serviceConfig(slowStart))
              .build();
      try {
        ChannelReadiness.awaitEveryPod(channel, FIRST_PODS);
        try (RpcLoad load = RpcLoad.start(channel, 2, CallOptions.DEFAULT)) {
          for (int i = 0; i < warmups + samples; i++) {
            LoopbackPod added = pods.get(2 + i);
            endpoints.add(ready(added));
            api.apply(
                MockKubernetesApi.slice(
                    "s", ports, endpoints.toArray(MockKubernetesApi.Pod[]::new)));
            // The change exists once the API server acknowledged it: measure from there.
            long start = System.nanoTime();
            awaitServed(load, added);
            if (i >= warmups) {
              lags[i - warmups] = System.nanoTime() - start;
            }
          }
          failures = load.snapshot().failures();
        }
      } finally {
        ScenarioSupport.close(channel);
      }
    }
    return row(
        "EndpointSlice watch (`kubernetes:///`), mock API server, from the update's acknowledgement",
        slowStart,
        lags,
        failures);
  }

  /** kube_round_robin with its defaults, or with slow start off. */
  private static Map<String, ?> serviceConfig(boolean slowStart) {
    Map<String, ?> options = slowStart ? Map.of() : Map.of("slowStart", Map.of("enabled", false));
    return Map.of("loadBalancingConfig", List.of(Map.of("kube_round_robin", options)));
  }

  private static void awaitServed(RpcLoad load, LoopbackPod pod) {
    Awaitility.await(pod + " serving")
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(1))
        .until(() -> load.snapshot().served(pod.name()) > 0);
  }

  private static String row(String resolver, boolean slowStart, long[] lags, long failures) {
    long[] sorted = lags.clone();
    Arrays.sort(sorted);
    return String.format(
        Locale.ROOT,
        "| %s | %s | %d | %.1f | %.1f | %d |%n",
        resolver,
        slowStart ? "on (default)" : "off",
        sorted.length,
        sorted[sorted.length / 2] / 1e6,
        sorted[sorted.length - 1] / 1e6,
        failures);
  }
}
