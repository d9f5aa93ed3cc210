package io.github.kubegrpclb.testing;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.EquivalentAddressGroup;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A fleet of pods for scale tests: pod {@code i} listens on {@code 127.0.(1 + i / 250).(1 + i %
 * 250)}, one port for all, like {@link LoopbackPods} (all of 127.0.0.0/8 is local on Linux), but
 * every pod is one and the same gRPC server listening on all those addresses, so 1,000 pods cost
 * one server, one listening socket per pod and no thread per pod. Pods serve {@link PodService}'s
 * whoami, answering with their name ({@code pod-i}, also in {@link LoopbackPod#POD_HEADER}), and
 * count the calls they served; unlike {@link LoopbackPod}s they have no knobs and cannot be stopped
 * one by one. Close the fleet to stop the server.
 *
 * <p>Thread-safe.
 */
public final class LoopbackFleet implements AutoCloseable {
  /** Pods per third octet: hosts .1 to .250. */
  private static final int PER_BLOCK = 250;

  /** The most pods a fleet may have (the third octet runs from 1 to 200). */
  public static final int MAX_PODS = 200 * PER_BLOCK;

  private static final Context.Key<Integer> POD = Context.key("loopback-fleet-pod");

  private final int port;
  private final int size;
  private final AtomicLongArray served;
  private final Server server;

  private LoopbackFleet(int size, int port) throws IOException {
    this.size = size;
    this.port = port;
    this.served = new AtomicLongArray(size);
    NettyServerBuilder builder = NettyServerBuilder.forAddress(address(0));
    for (int i = 1; i < size; i++) {
      builder.addListenAddress(address(i));
    }
    ServerServiceDefinition pod =
        ServerServiceDefinition.builder(PodService.SERVICE_NAME)
            .addMethod(
                PodService.WHOAMI,
                ServerCalls.asyncUnaryCall(
                    (request, response) -> {
                      int index = POD.get();
                      served.incrementAndGet(index);
                      response.onNext("pod-" + index);
                      response.onCompleted();
                    }))
            .build();
    this.server =
        builder.addService(ServerInterceptors.intercept(pod, new PodOfLocalAddress())).build();
    try {
      server.start();
    } catch (IOException | RuntimeException e) {
      server.shutdownNow();
      throw e;
    }
  }

  /**
   * Starts {@code count} pods on a free port.
   *
   * @throws IllegalArgumentException if {@code count} is not in 1..{@link #MAX_PODS}
   */
  public static LoopbackFleet start(int count) {
    if (count < 1 || count > MAX_PODS) {
      throw new IllegalArgumentException(
          "pod count: " + count + " (expected: 1.." + MAX_PODS + ")");
    }
    IOException last = null;
    for (int attempt = 0; attempt < 5; attempt++) {
      try {
        return new LoopbackFleet(count, freePort());
      } catch (IOException e) {
        last = e; // the port was taken on one of the addresses: try another
      }
    }
    throw new UncheckedIOException("could not start " + count + " loopback pods", last);
  }

  /** The loopback address of pod {@code index}: 127.0.(1 + index / 250).(1 + index % 250). */
  public static InetAddress hostAddress(int index) {
    try {
      return InetAddress.getByAddress(
          new byte[] {127, 0, (byte) (1 + index / PER_BLOCK), (byte) (1 + index % PER_BLOCK)});
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  private static int indexOf(InetAddress address) {
    byte[] bytes = address.getAddress();
    return bytes.length != 4 ? -1 : ((bytes[2] & 0xff) - 1) * PER_BLOCK + ((bytes[3] & 0xff) - 1);
  }

  /** Pod {@code index}'s socket address. */
  public InetSocketAddress address(int index) {
    return new InetSocketAddress(hostAddress(index), port);
  }

  public int size() {
    return size;
  }

  /** One address group per pod, in pod order, as a resolver would publish them. */
  public List<EquivalentAddressGroup> addressGroups() {
    List<EquivalentAddressGroup> groups = new ArrayList<>(size);
    for (int i = 0; i < size; i++) {
      groups.add(new EquivalentAddressGroup(address(i)));
    }
    return groups;
  }

  /** Calls pod {@code index} served since start. */
  public long served(int index) {
    return served.get(index);
  }

  /** How many pods served at least one call. */
  public int podsServed() {
    int count = 0;
    for (int i = 0; i < size; i++) {
      count += served.get(i) > 0 ? 1 : 0;
    }
    return count;
  }

  @Override
  public void close() {
    server.shutdownNow();
    try {
      server.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, hostAddress(0))) {
      return socket.getLocalPort();
    }
  }

  /** Tells the call which pod it reached (from the address it came in on), and the client too. */
  private final class PodOfLocalAddress implements ServerInterceptor {
    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
        ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
      SocketAddress local = call.getAttributes().get(Grpc.TRANSPORT_ATTR_LOCAL_ADDR);
      int index = local instanceof InetSocketAddress inet ? indexOf(inet.getAddress()) : -1;
      if (index < 0 || index >= size) {
        call.close(Status.INTERNAL.withDescription("no pod at " + local), new Metadata());
        return new ServerCall.Listener<ReqT>() {};
      }
      String name = "pod-" + index;
      return Contexts.interceptCall(
          Context.current().withValue(POD, index),
          new io.grpc.ForwardingServerCall.SimpleForwardingServerCall<ReqT, RespT>(call) {
            @Override
            public void sendHeaders(Metadata responseHeaders) {
              responseHeaders.put(LoopbackPod.POD_HEADER, name);
              super.sendHeaders(responseHeaders);
            }
          },
          headers,
          next);
    }
  }
}
