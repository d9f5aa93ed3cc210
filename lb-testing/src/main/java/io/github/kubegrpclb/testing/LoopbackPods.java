package io.github.kubegrpclb.testing;

import io.grpc.EquivalentAddressGroup;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * A set of {@link LoopbackPod}s, like the pods behind one Service: the same port on distinct
 * loopback addresses 127.0.0.11, 127.0.0.12, ... (all of 127.0.0.0/8 is local on Linux, so no root
 * is needed). Close it to stop every pod.
 *
 * <p>Thread-safe for reads; add pods from one thread.
 */
public final class LoopbackPods implements AutoCloseable {
  private static final int FIRST_HOST = 11;
  private static final int MAX_PODS = 200;

  private final int port;
  private final List<LoopbackPod> pods = new ArrayList<>();
  private final ScheduledExecutorService timer;

  private LoopbackPods(int port) {
    this.port = port;
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "loopback-pods-timer");
              t.setDaemon(true);
              return t;
            });
  }

  /** Starts {@code count} pods named pod-0, pod-1, ... on a free port. */
  public static LoopbackPods start(int count) {
    IOException last = null;
    for (int attempt = 0; attempt < 5; attempt++) {
      LoopbackPods pods = new LoopbackPods(freePort());
      try {
        for (int i = 0; i < count; i++) {
          pods.add();
        }
        return pods;
      } catch (UncheckedIOException e) {
        last = e.getCause();
        pods.close(); // the port was taken on one of the addresses: try another
      }
    }
    throw new UncheckedIOException("could not start " + count + " loopback pods", last);
  }

  /** Starts one more pod on the next loopback address and returns it. */
  public synchronized LoopbackPod add() {
    int index = pods.size();
    if (index >= MAX_PODS) {
      throw new IllegalStateException("at most " + MAX_PODS + " loopback pods");
    }
    InetSocketAddress address = new InetSocketAddress(hostAddress(index), port);
    try {
      LoopbackPod pod = new LoopbackPod("pod-" + index, address, timer);
      pods.add(pod);
      return pod;
    } catch (IOException e) {
      throw new UncheckedIOException("could not bind " + address, e);
    }
  }

  /**
   * Starts one more pod on {@code address}, on the same port as the others, and returns it: e.g.
   * {@code ::1} for a pod reached over IPv6.
   */
  public synchronized LoopbackPod addAt(InetAddress address) {
    if (pods.size() >= MAX_PODS) {
      throw new IllegalStateException("at most " + MAX_PODS + " loopback pods");
    }
    InetSocketAddress socketAddress = new InetSocketAddress(address, port);
    try {
      LoopbackPod pod = new LoopbackPod("pod-" + pods.size(), socketAddress, timer);
      pods.add(pod);
      return pod;
    } catch (IOException e) {
      throw new UncheckedIOException("could not bind " + socketAddress, e);
    }
  }

  /** The loopback address of the pod with this index: 127.0.0.(11 + index). */
  public static InetAddress hostAddress(int index) {
    try {
      return InetAddress.getByAddress(new byte[] {127, 0, 0, (byte) (FIRST_HOST + index)});
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  public int port() {
    return port;
  }

  public synchronized LoopbackPod get(int index) {
    return pods.get(index);
  }

  public synchronized List<LoopbackPod> all() {
    return List.copyOf(pods);
  }

  /** The pods' names (pod-0, pod-1, ...), in pod order. */
  public synchronized List<String> names() {
    return pods.stream().map(LoopbackPod::name).toList();
  }

  public synchronized int size() {
    return pods.size();
  }

  /** One address group per pod, in pod order, as a resolver would publish them. */
  public synchronized List<EquivalentAddressGroup> addressGroups() {
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    for (LoopbackPod pod : pods) {
      groups.add(new EquivalentAddressGroup(pod.address()));
    }
    return groups;
  }

  /** Successful calls per pod name, in pod order. */
  public synchronized Map<String, Long> servedByPod() {
    Map<String, Long> served = new LinkedHashMap<>();
    for (LoopbackPod pod : pods) {
      served.put(pod.name(), pod.served());
    }
    return served;
  }

  public synchronized void resetCounters() {
    pods.forEach(LoopbackPod::resetCounters);
  }

  @Override
  public synchronized void close() {
    pods.forEach(LoopbackPod::stop);
    pods.clear();
    timer.shutdownNow();
  }

  /** A port free on 127.0.0.11 now; whoever binds it next may still find it taken: retry. */
  static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 1, hostAddress(0))) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("no free port on " + hostAddress(0), e);
    }
  }
}
