package io.github.kubegrpclb.benchmarks;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.github.kubegrpclb.endpointslice.EndpointSliceOptions;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * What one client costs the Kubernetes API server: requests at start and bytes per endpoint change
 * of one {@code kubernetes:///} channel, counted on the wire by a TCP proxy between the client and
 * fabric8's mock API server (CRUD mode, real watch streams). Slices are shaped as
 * kube-controller-manager writes them (100 endpoints, target refs, node names, zones). Endpoints
 * are loopback addresses with no listener. Prints Markdown.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * io.github.kubegrpclb.benchmarks.ApiServerCost}.
 */
public final class ApiServerCost {
  private static final int PER_SLICE = 100;
  private static final String CLIENT_SERVICE = "my-client";
  private static final String CLIENT_POD_ROW = "--client-pod-row";

  private ApiServerCost() {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals(CLIENT_POD_ROW)) {
      System.out.print(measure(100, true)); // in the child JVM, as the client pod
      System.exit(0); // gRPC's shared Netty threads would keep the JVM up a while
    }
    System.out.print(report());
  }

  /** The Markdown section, for {@code ScenarioBenchmark}. */
  static String report() throws Exception {
    StringBuilder md = new StringBuilder();
    md.append("## API server cost of one client (`kubernetes:///`, mock API server)\n\n")
        .append("`ApiServerCost`: one channel to one Service, counted on the wire by a TCP proxy")
        .append(" in front of fabric8's mock API server; slices of 100 endpoints shaped as")
        .append(" kube-controller-manager writes them. Uncompressed HTTP/1.1 bytes. With a client")
        .append(" Service (`clientService`, for the subsetting client index), the channel also")
        .append(" watches the client's own Service, here of 100 pods; its changes are measured")
        .append(" there (a client pod's condition flips, a client pod is replaced).\n\n")
        .append("| endpoints (slices) | requests at start | bytes at start | bytes per")
        .append(" endpoint condition change | bytes per pod replaced (removed + added) |\n")
        .append("|---|---|---|---|---|\n");
    for (int endpoints : new int[] {100, 1000}) {
      md.append(measure(endpoints, false));
    }
    md.append(inClientPod());
    return md.append("\n").toString();
  }

  /**
   * The client-Service row, measured in a child JVM whose environment names its pod as the downward
   * API does ({@value EndpointSliceOptions#POD_NAME_ENV}): the resolver finds the client pod
   * through its public configuration, as in a pod.
   */
  private static String inClientPod() throws IOException, InterruptedException {
    ProcessBuilder child =
        new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp",
            System.getProperty("java.class.path"),
            ApiServerCost.class.getName(),
            CLIENT_POD_ROW);
    child.environment().put(EndpointSliceOptions.POD_NAME_ENV, podName(CLIENT_SERVICE, 7));
    child.redirectError(ProcessBuilder.Redirect.INHERIT);
    Process process = child.start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(2, TimeUnit.MINUTES) || process.exitValue() != 0) {
      process.destroyForcibly();
      throw new IllegalStateException("the client-pod measurement failed: " + out);
    }
    return out;
  }

  private static String measure(int endpoints, boolean clientService) throws Exception {
    int slices = endpoints / PER_SLICE;
    try (MockKubernetesApi api = new MockKubernetesApi()) {
      List<List<Integer>> members = new ArrayList<>();
      for (int s = 0; s < slices; s++) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < PER_SLICE; i++) {
          ids.add(s * PER_SLICE + i);
        }
        members.add(ids);
        api.apply(slice(MockKubernetesApi.SERVICE, s, ids, -1));
      }
      List<Integer> clientPods = new ArrayList<>();
      for (int i = 0; i < PER_SLICE; i++) {
        clientPods.add(i);
      }
      if (clientService) {
        api.apply(slice(CLIENT_SERVICE, 0, clientPods, -1));
      }
      URI master = URI.create(api.client().getConfiguration().getMasterUrl());
      try (CountingProxy proxy =
              new CountingProxy(new InetSocketAddress(master.getHost(), master.getPort()));
          KubernetesClient client =
              new KubernetesClientBuilder()
                  .withConfig(
                      new ConfigBuilder()
                          .withMasterUrl(proxy.url())
                          .withNamespace(MockKubernetesApi.NAMESPACE)
                          .build())
                  .build()) {
        EndpointSliceOptions.Builder options = EndpointSliceOptions.builder().client(client);
        if (clientService) {
          options.clientService(CLIENT_SERVICE);
        }
        ManagedChannel channel =
            Grpc.newChannelBuilder(
                    "kubernetes:///my-svc.my-ns:grpc", InsecureChannelCredentials.create())
                .setNameResolverArg(EndpointSliceOptions.KEY, options.build())
                .build();
        try {
          channel.getState(true);
          awaitQuiet(proxy, clientService ? 4 : 2);
          int startRequests = proxy.requests().size();
          long startBytes = proxy.bytesDown() + proxy.bytesUp();

          int changes = 5;
          long before = proxy.bytesDown() + proxy.bytesUp();
          for (int c = 0; c < changes; c++) {
            api.apply(
                clientService
                    ? slice(CLIENT_SERVICE, 0, clientPods, c)
                    : slice(MockKubernetesApi.SERVICE, c % slices, members.get(c % slices), c));
            awaitChangeThenQuiet(proxy, before);
            before = proxy.bytesDown() + proxy.bytesUp();
          }
          long perChange = (before - startBytes) / changes;

          long beforeReplace = proxy.bytesDown() + proxy.bytesUp();
          String replacedService = clientService ? CLIENT_SERVICE : MockKubernetesApi.SERVICE;
          List<Integer> replaced = new ArrayList<>(clientService ? clientPods : members.get(0));
          replaced.remove(0);
          api.apply(slice(replacedService, 0, replaced, -1));
          awaitChangeThenQuiet(proxy, beforeReplace);
          long mid = proxy.bytesDown() + proxy.bytesUp();
          replaced.add(endpoints + 1);
          api.apply(slice(replacedService, 0, replaced, -1));
          awaitChangeThenQuiet(proxy, mid);
          long perReplace = proxy.bytesDown() + proxy.bytesUp() - beforeReplace;
          return String.format(
              Locale.ROOT,
              "| %,d (%d)%s | %d (%s) | %,d | %,d | %,d |%n",
              endpoints,
              slices,
              clientService ? " + client Service of 100 pods (1)" : "",
              startRequests,
              String.join(", ", shortRequests(proxy.requests().subList(0, startRequests))),
              startBytes,
              perChange,
              perReplace);
        } finally {
          channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  private static List<String> shortRequests(List<String> requests) {
    List<String> out = new ArrayList<>();
    for (String request : requests) {
      out.add(
          request.contains("watch=true") ? "WATCH" : request.startsWith("GET") ? "LIST" : request);
    }
    return out;
  }

  /** Waits until at least {@code requests} were made and nothing moved for 500 ms. */
  private static void awaitQuiet(CountingProxy proxy, int requests) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    long last = -1;
    long stableSince = System.nanoTime();
    while (System.nanoTime() < deadline) {
      long now = proxy.bytesDown() + proxy.bytesUp();
      if (now != last) {
        last = now;
        stableSince = System.nanoTime();
      } else if (proxy.requests().size() >= requests
          && System.nanoTime() - stableSince > TimeUnit.MILLISECONDS.toNanos(500)) {
        return;
      }
      TimeUnit.MILLISECONDS.sleep(20); // polling a counter: nothing to wait on
    }
    throw new IllegalStateException("API traffic did not settle: " + proxy.requests());
  }

  private static void awaitChangeThenQuiet(CountingProxy proxy, long before)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (proxy.bytesDown() + proxy.bytesUp() == before) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the watch event never arrived");
      }
      TimeUnit.MILLISECONDS.sleep(5);
    }
    awaitQuiet(proxy, 0);
  }

  private static String podName(String service, int id) {
    return service + "-7d4b9c8f6-" + Integer.toString(100_000 + id, 36);
  }

  /**
   * A slice of {@code service} as the EndpointSlice controller writes it; {@code notReady} flips
   * one endpoint.
   */
  static EndpointSlice slice(String service, int index, List<Integer> ids, int notReady) {
    EndpointSliceBuilder builder =
        new EndpointSliceBuilder()
            .withNewMetadata()
            .withName(service + "-" + String.format(Locale.ROOT, "%05x", index * 7919 + 0xa1b2c))
            .withGenerateName(service + "-")
            .withNamespace(MockKubernetesApi.NAMESPACE)
            .addToLabels(MockKubernetesApi.SERVICE_NAME_LABEL, service)
            .addToLabels(
                "endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io")
            .addToLabels("app.kubernetes.io/name", service)
            .addNewOwnerReference()
            .withApiVersion("v1")
            .withKind("Service")
            .withName(service)
            .withUid("6f1d2c3b-9a8e-4f70-b1c2-d3e4f5a6b7c8")
            .withController(true)
            .withBlockOwnerDeletion(true)
            .endOwnerReference()
            .endMetadata()
            .withAddressType("IPv4")
            .addNewPort()
            .withName("grpc")
            .withPort(50051)
            .withProtocol("TCP")
            .endPort();
    for (int i = 0; i < ids.size(); i++) {
      int id = ids.get(i);
      boolean ready = i != notReady;
      builder
          .addNewEndpoint()
          .withAddresses("127.1." + (id >> 8 & 255) + "." + (id & 255))
          .withNewConditions()
          .withReady(ready)
          .withServing(ready)
          .withTerminating(false)
          .endConditions()
          .withNodeName("node-" + (id % 50))
          .withZone("zone-" + (char) ('a' + id % 3))
          .withNewTargetRef()
          .withKind("Pod")
          .withNamespace(MockKubernetesApi.NAMESPACE)
          .withName(podName(service, id))
          .withUid(String.format(Locale.ROOT, "%08x-1f2e-4d3c-8b7a-%012x", id, id * 31L))
          .endTargetRef()
          .endEndpoint();
    }
    return builder.build();
  }
}
