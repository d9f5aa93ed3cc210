package io.github.kubegrpclb.xds;

import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.DiscoveryServerCallbacks;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An xDS management server in this JVM: envoyproxy's java-control-plane (ADS, state of the world)
 * on a free loopback port, serving one snapshot of Listener, RouteConfiguration, Cluster and
 * ClusterLoadAssignment resources to every client, and recording the requests that NACK a response.
 *
 * <p>grpc-java reads its xDS bootstrap once per JVM and keeps one xDS client per target, so there
 * is one control plane per test JVM ({@link #shared}); it points grpc-java at itself through the
 * {@code io.grpc.xds.bootstrapConfig} system property (the property twin of {@code
 * GRPC_XDS_BOOTSTRAP_CONFIG}), so no file is written anywhere. Each test installs its own snapshot.
 * A shutdown hook stops the server with the JVM. Thread-safe.
 */
final class XdsControlPlane {
  /** The node id in the bootstrap; every node gets the same snapshot. */
  static final String NODE_ID = "kube-grpc-lb-xds-tests";

  private static final String GROUP = "all-clients";
  private static final String BOOTSTRAP_PROPERTY = "io.grpc.xds.bootstrapConfig";
  private static XdsControlPlane shared;

  private final SimpleCache<String> cache = new SimpleCache<>(node -> GROUP);
  private final List<DiscoveryRequest> nacks = new CopyOnWriteArrayList<>();
  private final AtomicLong version = new AtomicLong();
  private final Server server;

  private XdsControlPlane() {
    V3DiscoveryServer discovery = new V3DiscoveryServer(new NackRecorder(), cache);
    try {
      server =
          NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
              .addService(discovery.getAggregatedDiscoveryServiceImpl())
              .build()
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException("could not start the xDS control plane on 127.0.0.1", e);
    }
  }

  /**
   * Returns the JVM's control plane, starting it and installing the bootstrap on first use (before
   * any {@code xds:///} channel exists).
   */
  static synchronized XdsControlPlane shared() {
    if (shared == null) {
      for (String variable : List.of("GRPC_XDS_BOOTSTRAP", "GRPC_XDS_BOOTSTRAP_CONFIG")) {
        if (System.getenv(variable) != null) {
          throw new IllegalStateException(
              variable
                  + " is set in the environment; grpc-java would prefer it over this test's"
                  + " control plane: unset it to run these tests");
        }
      }
      XdsControlPlane controlPlane = new XdsControlPlane();
      System.setProperty(BOOTSTRAP_PROPERTY, controlPlane.bootstrapJson());
      Runtime.getRuntime()
          .addShutdownHook(new Thread(controlPlane::stop, "xds-control-plane-shutdown"));
      shared = controlPlane;
    }
    return shared;
  }

  /** The bootstrap grpc-java's xDS client reads: this server over plaintext, xDS v3. */
  String bootstrapJson() {
    return "{\"xds_servers\":[{\"server_uri\":\"127.0.0.1:"
        + server.getPort()
        + "\",\"channel_creds\":[{\"type\":\"insecure\"}],\"server_features\":[\"xds_v3\"]}],"
        + "\"node\":{\"id\":\""
        + NODE_ID
        + "\"}}";
  }

  /**
   * Makes these resources the state of the world for every client, under a new version, and returns
   * the nanoTime just before the change (the clock start of propagation measurements).
   */
  long setResources(
      Listener listener,
      RouteConfiguration route,
      Cluster cluster,
      ClusterLoadAssignment endpoints) {
    Snapshot snapshot =
        Snapshot.create(
            List.of(cluster),
            List.of(endpoints),
            List.of(listener),
            List.of(route),
            List.of(),
            Long.toString(version.incrementAndGet()));
    long before = System.nanoTime();
    cache.setSnapshot(GROUP, snapshot);
    return before;
  }

  /**
   * Serves {@link EchoResources}' listener and route with this cluster and these endpoints; returns
   * the nanoTime just before the change.
   */
  long serveEcho(Cluster cluster, ClusterLoadAssignment endpoints) {
    return setResources(EchoResources.listener(), EchoResources.route(), cluster, endpoints);
  }

  /** The requests so far that rejected a response (carried an {@code error_detail}). */
  List<DiscoveryRequest> nacks() {
    return List.copyOf(nacks);
  }

  void clearNacks() {
    nacks.clear();
  }

  private void stop() {
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Keeps every state-of-the-world request that NACKs the previous response. */
  private final class NackRecorder implements DiscoveryServerCallbacks {
    @Override
    public void onV3StreamRequest(long streamId, DiscoveryRequest request) {
      if (request.hasErrorDetail()) {
        nacks.add(request);
      }
    }

    @Override
    public void onV3StreamDeltaRequest(long streamId, DeltaDiscoveryRequest request) {}
  }
}
