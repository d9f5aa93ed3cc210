package io.github.kubegrpclb.testing;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * fabric8's mock API server in CRUD mode (a real HTTP server with real watch streams) on a fixed
 * loopback port, restartable on that port with its data kept, as an API server restart keeps etcd.
 * Plus builders for the EndpointSlices kube-controller-manager would write.
 */
public final class MockKubernetesApi implements AutoCloseable {
  public static final String NAMESPACE = "my-ns";
  public static final String SERVICE = "my-svc";

  /**
   * The mock server logs every request at INFO through java.util.logging, and its Vert.x event loop
   * warns when a loaded machine delays it: noise in front of a test's or the demo's output. Held
   * here because JUL keeps loggers weakly, and a collected logger loses its level.
   */
  private static final List<Logger> QUIET_LOGS =
      List.of(
          quiet("io.fabric8.mockwebserver", Level.WARNING),
          quiet("io.vertx.core.impl.BlockedThreadChecker", Level.SEVERE));

  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private final RecordingDispatcher dispatcher = new RecordingDispatcher(requests);
  private KubernetesMockServer server;
  private final int port;
  private final KubernetesClient client;
  private final List<KubernetesClient> extraClients = new CopyOnWriteArrayList<>();

  /** The label that ties an EndpointSlice to its Service. */
  public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

  /** Starts the server on a free loopback port. */
  public MockKubernetesApi() {
    server = newServer();
    server.init(InetAddress.getLoopbackAddress(), 0);
    port = server.getPort();
    client = server.createClient();
  }

  private static Logger quiet(String name, Level level) {
    Logger logger = Logger.getLogger(name);
    logger.setLevel(level);
    return logger;
  }

  private KubernetesMockServer newServer() {
    return new KubernetesMockServer(
        new Context(), new MockWebServer(), new HashMap<>(), dispatcher, false);
  }

  /** A client of this server; its own namespace is the mock's default, "test". */
  public KubernetesClient client() {
    return client;
  }

  /** A new client of this server whose own namespace is {@code namespace}; closed with this. */
  public KubernetesClient clientInNamespace(String namespace) {
    KubernetesClient inNamespace =
        new KubernetesClientBuilder()
            .withConfig(
                new ConfigBuilder(client.getConfiguration()).withNamespace(namespace).build())
            .build();
    extraClients.add(inNamespace);
    return inNamespace;
  }

  /** Stops the API server: every watch connection breaks. */
  public void stop() {
    server.destroy();
  }

  /** Starts it again on the same port with the same data. */
  public void start() {
    server = newServer();
    server.init(InetAddress.getLoopbackAddress(), port);
  }

  /**
   * Every request the server answered since it was created (across restarts), in order: what a
   * client costs the API server.
   */
  public List<Request> requests() {
    return List.copyOf(requests);
  }

  /**
   * One request the server answered.
   *
   * @param nanoTime when it was dispatched ({@code System.nanoTime()})
   * @param method the HTTP method
   * @param path the path with its query, e.g. {@code
   *     /apis/discovery.k8s.io/v1/namespaces/my-ns/endpointslices?labelSelector=...&watch=true}
   * @param status the response's status code (a watch that opens: 101 or 200)
   * @param responseBytes the response body's size (0 for a watch: its events follow on a socket)
   */
  public record Request(long nanoTime, String method, String path, int status, long responseBytes) {
    /** A watch request (it opens a stream of events). */
    public boolean watch() {
      return path.contains("watch=true");
    }

    /** A list of EndpointSlices (what an informer sends to sync, and again on each relist). */
    public boolean sliceList() {
      return "GET".equals(method) && !watch() && path.contains("/endpointslices?");
    }
  }

  /**
   * While true, every request is answered 503 Service Unavailable, as by an API server that is
   * starting (each attempt is recorded, which a stopped server cannot do). Restart the server
   * ({@link #stop()}, {@link #start()}) first to break the open watches.
   */
  public void unavailable(boolean unavailable) {
    dispatcher.unavailable = unavailable;
  }

  /**
   * From now on, each watch's next request (one per path without its resourceVersion) is answered
   * with a 410 Gone ERROR event, as by an API server whose watch cache no longer holds the client's
   * resourceVersion after a restart: the client must list again. Later requests are served.
   */
  public void expireWatches() {
    dispatcher.expired.clear();
    dispatcher.expire = true;
  }

  /** The CRUD dispatcher, recording each request with its time and response size. */
  private static final class RecordingDispatcher extends KubernetesCrudDispatcher {
    private static final String UNAVAILABLE =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
            + "\"message\":\"the API server is starting\",\"reason\":\"ServiceUnavailable\","
            + "\"code\":503}";
    private static final String GONE =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
            + "\"message\":\"too old resource version\",\"reason\":\"Expired\","
            + "\"code\":410}";
    private final List<Request> requests;
    final Set<String> expired = ConcurrentHashMap.newKeySet();
    volatile boolean unavailable;
    volatile boolean expire;

    RecordingDispatcher(List<Request> requests) {
      this.requests = requests;
    }

    @Override
    public MockResponse dispatch(RecordedRequest request) {
      long now = System.nanoTime();
      MockResponse response =
          unavailable
              ? new MockResponse().setResponseCode(503).setBody(UNAVAILABLE)
              : expire && isWatch(request.getPath()) && expired.add(withoutVersion(request))
                  ? new MockResponse().withWebSocketUpgrade(new GoneWatch())
                  : super.dispatch(request);
      long bytes = response == null || response.getBody() == null ? 0 : response.getBody().size();
      int status = response == null ? 0 : response.code();
      requests.add(new Request(now, request.getMethod(), request.getPath(), status, bytes));
      return response;
    }
  }

  /** A watch that opens, then says 410 Gone in an ERROR event and ends, as an API server does. */
  private static final class GoneWatch extends WebSocketListener {
    @Override
    public void onOpen(WebSocket webSocket, Response response) {
      webSocket.send("{\"type\":\"ERROR\",\"object\":" + RecordingDispatcher.GONE + "}");
      webSocket.close(1000, "410 Gone");
    }
  }

  private static boolean isWatch(String path) {
    return path.contains("watch=true");
  }

  private static String withoutVersion(RecordedRequest request) {
    return request.getPath().replaceAll("resourceVersion=[^&]*", "");
  }

  public void apply(EndpointSlice slice) {
    client
        .discovery()
        .v1()
        .endpointSlices()
        .inNamespace(NAMESPACE)
        .resource(slice)
        .createOr(existing -> existing.update());
  }

  public void delete(String sliceName) {
    client.discovery().v1().endpointSlices().inNamespace(NAMESPACE).withName(sliceName).delete();
  }

  @Override
  public void close() {
    extraClients.forEach(KubernetesClient::close);
    client.close();
    server.destroy();
  }

  /**
   * An endpoint: a pod's name (its targetRef) and address, its conditions, zone, hinted zones, node
   * and hinted nodes.
   */
  public record Pod(
      String name,
      String address,
      Boolean ready,
      Boolean serving,
      Boolean terminating,
      String zone,
      List<String> hints,
      String node,
      List<String> nodeHints) {
    public static Pod ready(LoopbackPod pod) {
      return ready(pod.name(), pod.address().getAddress().getHostAddress());
    }

    /** A ready pod with this name at this IP address. */
    public static Pod ready(String name, String ip) {
      return new Pod(name, ip, true, true, false, null, List.of(), null, List.of());
    }

    public static Pod terminating(LoopbackPod pod) {
      return ready(pod).withConditions(false, true, true);
    }

    public static Pod notReady(LoopbackPod pod) {
      return ready(pod).withConditions(false, false, false);
    }

    /** A pod with this name at this IP address that is not ready (e.g. still starting). */
    public static Pod notReady(String name, String ip) {
      return ready(name, ip).withConditions(false, false, false);
    }

    private Pod withConditions(Boolean ready, Boolean serving, Boolean terminating) {
      return new Pod(name, address, ready, serving, terminating, zone, hints, node, nodeHints);
    }

    public Pod inZone(String zone, String... hints) {
      return new Pod(
          name, address, ready, serving, terminating, zone, List.of(hints), node, nodeHints);
    }

    /** On {@code node}, hinted for {@code nodeHints} ({@code PreferSameNode}). */
    public Pod onNode(String node, String... nodeHints) {
      return new Pod(
          name, address, ready, serving, terminating, zone, hints, node, List.of(nodeHints));
    }

    /** The same pod listed at another address, e.g. its IPv6 address {@code "::1"}. */
    public Pod at(String ip) {
      return new Pod(name, ip, ready, serving, terminating, zone, hints, node, nodeHints);
    }
  }

  /**
   * A slice of my-ns/my-svc with the given ports (name -> pod port) and endpoints; its address type
   * is IPv6 when the first endpoint's address is, else IPv4.
   */
  public static EndpointSlice slice(String name, Map<String, Integer> ports, Pod... pods) {
    return slice(SERVICE, name, ports, pods);
  }

  /** A slice of my-ns/{@code service}, as {@link #slice(String, Map, Pod...)} builds it. */
  public static EndpointSlice slice(
      String service, String name, Map<String, Integer> ports, Pod... pods) {
    boolean ipv6 = pods.length > 0 && pods[0].address().contains(":");
    EndpointSliceBuilder builder =
        new EndpointSliceBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(NAMESPACE)
            .addToLabels(SERVICE_NAME_LABEL, service)
            .endMetadata()
            .withAddressType(ipv6 ? "IPv6" : "IPv4");
    ports.forEach(
        (portName, port) ->
            builder.addNewPort().withName(portName).withPort(port).withProtocol("TCP").endPort());
    for (Pod pod : pods) {
      var endpoint =
          builder
              .addNewEndpoint()
              .withAddresses(pod.address())
              .withZone(pod.zone())
              .withNodeName(pod.node())
              .withNewTargetRef()
              .withKind("Pod")
              .withNamespace(NAMESPACE)
              .withName(pod.name())
              .endTargetRef()
              .withNewConditions()
              .withReady(pod.ready())
              .withServing(pod.serving())
              .withTerminating(pod.terminating())
              .endConditions();
      if (!pod.hints().isEmpty() || !pod.nodeHints().isEmpty()) {
        var hints = endpoint.withNewHints();
        for (String zone : pod.hints()) {
          hints.addNewForZone().withName(zone).endForZone();
        }
        for (String node : pod.nodeHints()) {
          hints.addNewForNode().withName(node).endForNode();
        }
        hints.endHints();
      }
      endpoint.endEndpoint();
    }
    return builder.build();
  }
}
