package io.github.kubegrpclb.testing;

import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Pods that serve TLS: gRPC servers on 127.0.0.11, .12, ... (one port), each answering {@link
 * PodService#WHOAMI} with its name (pod-0, pod-1, ...; see {@link PodService#answeringAs}) and
 * presenting the certificate of the {@link ServerCredentials} given, as pods behind a Service with
 * a cert-manager certificate do. Close to stop them.
 *
 * <p>Not thread-safe; start and close from the test thread.
 */
public final class TlsPods implements AutoCloseable {
  private final int port;
  private final List<Server> servers = new ArrayList<>();

  private TlsPods(int port) {
    this.port = port;
  }

  /** Starts {@code count} pods serving TLS with {@code credentials}. */
  public static TlsPods start(int count, ServerCredentials credentials) {
    IOException last = null;
    for (int attempt = 0; attempt < 5; attempt++) {
      TlsPods pods = new TlsPods(LoopbackPods.freePort());
      try {
        for (int i = 0; i < count; i++) {
          pods.servers.add(pods.newServer(i, credentials).start());
        }
        return pods;
      } catch (IOException e) {
        last = e; // the port was taken on one of the addresses: try another
        pods.close();
      }
    }
    throw new UncheckedIOException("could not start " + count + " TLS pods", last);
  }

  public int port() {
    return port;
  }

  /** The name of pod {@code index}, as {@link PodService#WHOAMI} answers it. */
  public static String name(int index) {
    return "pod-" + index;
  }

  /** The IP address of pod {@code index}: 127.0.0.(11 + index). */
  public String ip(int index) {
    return LoopbackPods.hostAddress(index).getHostAddress();
  }

  /** The pods' names, pod-0, pod-1, ..., in pod order. */
  public List<String> names() {
    return java.util.stream.IntStream.range(0, servers.size()).mapToObj(TlsPods::name).toList();
  }

  /**
   * Checks that {@code status} is how a client fails that verified these pods' certificate and
   * found no subject alternative name matching {@code host}: UNAVAILABLE, "failed to connect", the
   * handshake's name check as the cause. The pods run and accept TCP, so nothing else fails.
   *
   * @throws AssertionError naming what differs
   */
  public static void assertHostNameRejected(Status status, String host) {
    String check = "No subject alternative DNS name matching " + host + " found";
    boolean named = false;
    for (Throwable cause = status.getCause(); cause != null; cause = cause.getCause()) {
      named |= String.valueOf(cause.getMessage()).contains(check);
    }
    String description = String.valueOf(status.getDescription());
    if (status.getCode() != Status.Code.UNAVAILABLE
        || !description.contains("failed to connect")
        || !named) {
      throw new AssertionError(
          "expected UNAVAILABLE \"failed to connect\" caused by \"" + check + "\", got " + status,
          status.asException());
    }
  }

  public int size() {
    return servers.size();
  }

  @Override
  public void close() {
    for (Server server : servers) {
      server.shutdownNow();
    }
    for (Server server : servers) {
      try {
        server.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    servers.clear();
  }

  private Server newServer(int index, ServerCredentials credentials) {
    return NettyServerBuilder.forAddress(
            new InetSocketAddress(LoopbackPods.hostAddress(index), port), credentials)
        .addService(PodService.answeringAs(name(index)))
        .build();
  }
}
