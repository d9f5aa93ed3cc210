package io.github.kubegrpclb.testing;

import io.grpc.Attributes;
import io.grpc.Server;
import io.grpc.ServerTransportFilter;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Pods whose servers close every connection at a maximum age, as servers configured with {@code
 * NettyServerBuilder.maxConnectionAge} do (grpc-java adds +-10 % jitter): GOAWAY, in-flight calls
 * finish within the grace period, and the listener stays open, so clients reconnect at once. Laid
 * out like {@link LoopbackPods} (one port on 127.0.0.11, .12, ..., pods named pod-0, pod-1, ...),
 * serving {@link PodService} with {@link LoopbackPod#POD_HEADER}; each pod counts its open
 * connections. Close it to stop every server.
 *
 * <p>Thread-safe.
 */
public final class MaxAgePods implements AutoCloseable {
  private static final Attributes.Key<Boolean> COUNTED = Attributes.Key.create("counted");

  private final int port;
  private final List<Pod> pods = new ArrayList<>();

  private MaxAgePods(int port) {
    this.port = port;
  }

  /** Starts {@code count} pods whose connections live {@code maxAge}, then get {@code grace}. */
  public static MaxAgePods start(int count, Duration maxAge, Duration grace) {
    IOException last = null;
    for (int attempt = 0; attempt < 5; attempt++) {
      MaxAgePods set = new MaxAgePods(LoopbackPods.freePort());
      try {
        for (int i = 0; i < count; i++) {
          set.pods.add(
              new Pod("pod-" + i, new InetSocketAddress(LoopbackPods.hostAddress(i), set.port)));
        }
        for (Pod pod : set.pods) {
          pod.start(maxAge, grace);
        }
        return set;
      } catch (IOException e) {
        last = e;
        set.close(); // the port was taken on one of the addresses: try another
      }
    }
    throw new UncheckedIOException("could not start " + count + " max-age pods", last);
  }

  public int port() {
    return port;
  }

  /** The pods' addresses, in pod order. */
  public List<InetSocketAddress> addresses() {
    return pods.stream().map(pod -> pod.address).toList();
  }

  /** The pods' names, in pod order. */
  public List<String> names() {
    return pods.stream().map(pod -> pod.name).toList();
  }

  /** Connections currently open, summed over the pods (closing ones count until closed). */
  public int openConnections() {
    return pods.stream().mapToInt(pod -> pod.open.get()).sum();
  }

  /** Connections accepted since start, summed over the pods. */
  public long acceptedConnections() {
    return pods.stream().mapToLong(pod -> pod.accepted.get()).sum();
  }

  @Override
  public void close() {
    for (Pod pod : pods) {
      pod.stop();
    }
  }

  private static final class Pod {
    final String name;
    final InetSocketAddress address;
    final AtomicInteger open = new AtomicInteger();
    final AtomicLong accepted = new AtomicLong();
    Server server;

    Pod(String name, InetSocketAddress address) {
      this.name = name;
      this.address = address;
    }

    synchronized void start(Duration maxAge, Duration grace) throws IOException {
      server =
          NettyServerBuilder.forAddress(address)
              .maxConnectionAge(maxAge.toNanos(), TimeUnit.NANOSECONDS)
              .maxConnectionAgeGrace(grace.toNanos(), TimeUnit.NANOSECONDS)
              .addTransportFilter(new ConnectionCounter())
              .addService(PodService.answeringAs(name))
              .build()
              .start();
    }

    synchronized void stop() {
      if (server != null) {
        server.shutdownNow();
        try {
          server.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        server = null;
      }
    }

    private final class ConnectionCounter extends ServerTransportFilter {
      @Override
      public Attributes transportReady(Attributes attributes) {
        open.incrementAndGet();
        accepted.incrementAndGet();
        return attributes.toBuilder().set(COUNTED, true).build();
      }

      @Override
      public void transportTerminated(Attributes attributes) {
        if (attributes.get(COUNTED) != null) { // a handshake that failed was never counted
          open.decrementAndGet();
        }
      }
    }
  }
}
