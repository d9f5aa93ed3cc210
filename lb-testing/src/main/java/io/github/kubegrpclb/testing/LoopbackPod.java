package io.github.kubegrpclb.testing;

import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One "pod": a real gRPC server (grpc-netty-shaded) on its own loopback address, serving {@link
 * PodService} and the standard health service. Tests can slow it down, make a share of calls fail,
 * make it fail every call with a chosen code, hang it, make it cold, make it send GOAWAY, crash it
 * and restart it on the same address.
 *
 * <p>Thread-safe: behaviour knobs are atomics read per call; lifecycle methods are synchronized.
 */
public final class LoopbackPod implements AutoCloseable {
  /** Response header carrying the serving pod's name. */
  public static final Metadata.Key<String> POD_HEADER =
      Metadata.Key.of("x-kubegrpclb-pod", Metadata.ASCII_STRING_MARSHALLER);

  private static final Metadata.Key<String> PUSHBACK =
      Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);

  private final String name;
  private final InetSocketAddress address;
  private final ScheduledExecutorService timer;
  private final AtomicLong latencyNanos = new AtomicLong();
  private final AtomicLong failurePercent = new AtomicLong();
  private final AtomicLong calls = new AtomicLong();
  private final AtomicLong served = new AtomicLong();
  private final Set<ServerCallStreamObserver<String>> watches = ConcurrentHashMap.newKeySet();
  private Server server;
  private HealthStatusManager health;
  private volatile boolean serving = true;
  private volatile boolean hung;
  private volatile Status failWith;
  private volatile long pushbackMillis = -1;
  private volatile long coldStartNanos;
  private volatile long coldUntilNanos;
  private volatile long coldWindowNanos = 1;

  LoopbackPod(String name, InetSocketAddress address, ScheduledExecutorService timer)
      throws IOException {
    this.name = name;
    this.address = address;
    this.timer = timer;
    this.server = newServer().start();
  }

  public String name() {
    return name;
  }

  /** The address the pod listens on, e.g. 127.0.0.11:port. */
  public InetSocketAddress address() {
    return address;
  }

  /** Adds {@code latency} before every response (zero to remove). */
  public void setLatency(Duration latency) {
    latencyNanos.set(latency.toNanos());
  }

  /** Fails {@code percent} of calls with UNAVAILABLE, evenly spread (0 to 100). */
  public void setFailurePercent(int percent) {
    if (percent < 0 || percent > 100) {
      throw new IllegalArgumentException("percent: " + percent + " (expected: 0..100)");
    }
    failurePercent.set(percent);
  }

  /**
   * Hangs the pod (true) as a deadlocked process or a GC spiral does: connections and HTTP/2 PINGs
   * are still answered, calls are accepted and never answered (until the client gives up or the pod
   * stops). False answers new calls again.
   */
  public void setHung(boolean hung) {
    this.hung = hung;
  }

  /**
   * Fails every call at once with {@code code} (null to stop), as a pod of another version
   * (UNIMPLEMENTED) or an overloaded one (RESOURCE_EXHAUSTED) does; with {@code pushback} non-null
   * the trailers carry {@code grpc-retry-pushback-ms}.
   */
  public void setFailWith(Status.Code code, Duration pushback) {
    this.pushbackMillis = pushback == null ? -1 : pushback.toMillis();
    this.failWith = code == null ? null : Status.fromCode(code);
  }

  /**
   * Makes the pod cold, as a JVM warming up: from now, each call takes {@code initial} extra
   * latency, falling linearly to zero over {@code window}.
   */
  public void setColdStart(Duration initial, Duration window) {
    coldWindowNanos = Math.max(1, window.toNanos());
    coldStartNanos = initial.toNanos();
    coldUntilNanos = System.nanoTime() + window.toNanos();
  }

  /**
   * Sets what the health service reports for every service name ("" included): SERVING, or
   * NOT_SERVING as a pod that is alive but unready. Kept across restarts.
   */
  public synchronized void setServing(boolean serving) {
    this.serving = serving;
    if (health != null) {
      health.setStatus(
          "",
          serving
              ? io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING
              : io.grpc.health.v1.HealthCheckResponse.ServingStatus.NOT_SERVING);
    }
  }

  /** Calls received (including failed ones) since start. */
  public long calls() {
    return calls.get();
  }

  /** Calls answered successfully since start. */
  public long served() {
    return served.get();
  }

  /** Zeroes the call counters. */
  public void resetCounters() {
    calls.set(0);
    served.set(0);
  }

  public synchronized boolean isRunning() {
    return server != null && !server.isShutdown();
  }

  /** Crashes the pod: closes every connection at once, failing in-flight calls. */
  public synchronized void stop() {
    if (server != null) {
      server.shutdownNow();
      awaitTermination(server);
      server = null;
    }
  }

  /**
   * Stops the pod gracefully, as a pod that got SIGTERM does after its preStop: GOAWAY on every
   * connection, in-flight calls finish, then the server is gone.
   */
  public synchronized void drain() {
    if (server != null) {
      server.shutdown();
      awaitTermination(server);
      server = null;
    }
  }

  /** Starts the pod again on the same address (after {@link #stop}). */
  public synchronized void restart() {
    if (server == null) {
      try {
        server = newServer().start();
      } catch (IOException e) {
        throw new UncheckedIOException("restart of " + name + " on " + address + " failed", e);
      }
    }
  }

  /**
   * Sends GOAWAY on every connection and lets in-flight calls finish, then listens again on the
   * same address, as a server with MAX_CONNECTION_AGE or a graceful restart does.
   */
  public synchronized void goAway() {
    drain();
    restart();
  }

  @Override
  public void close() {
    stop();
  }

  private static void awaitTermination(Server server) {
    try {
      if (!server.awaitTermination(10, TimeUnit.SECONDS)) {
        server.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private Server newServer() {
    health = new HealthStatusManager();
    setServing(serving);
    ServerServiceDefinition pod =
        ServerServiceDefinition.builder(PodService.SERVICE_NAME)
            .addMethod(PodService.WHOAMI, ServerCalls.asyncUnaryCall(this::whoami))
            .addMethod(PodService.UPLOAD, ServerCalls.asyncClientStreamingCall(this::upload))
            .addMethod(PodService.WATCH, ServerCalls.asyncServerStreamingCall(this::watch))
            .build();
    return NettyServerBuilder.forAddress(address)
        .addService(ServerInterceptors.intercept(pod, PodService.podHeader(name)))
        .addService(health.getHealthService())
        .build();
  }

  /** Watch streams ({@link PodService#WATCH}) open on this pod now. */
  public int openWatches() {
    return watches.size();
  }

  private void watch(String request, StreamObserver<String> response) {
    ServerCallStreamObserver<String> call = (ServerCallStreamObserver<String>) response;
    watches.add(call);
    call.setOnCancelHandler(() -> watches.remove(call));
    call.onNext(name);
  }

  private StreamObserver<String> upload(StreamObserver<String> response) {
    return new StreamObserver<String>() {
      @Override
      public void onNext(String value) {}

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        response.onNext(name);
        response.onCompleted();
      }
    };
  }

  private void whoami(String request, StreamObserver<String> response) {
    long n = calls.incrementAndGet();
    if (hung) {
      return; // never answered
    }
    Status fail = failWith;
    if (fail != null) {
      Metadata trailers = new Metadata();
      long pushback = pushbackMillis;
      if (pushback >= 0) {
        trailers.put(PUSHBACK, Long.toString(pushback));
      }
      response.onError(
          fail.withDescription(name + " failed this call on purpose").asException(trailers));
      return;
    }
    long percent = failurePercent.get();
    // Call n fails when the running count of failures due, n * percent / 100, steps up.
    if (percent > 0 && (n * percent) / 100 != ((n - 1) * percent) / 100) {
      response.onError(
          Status.UNAVAILABLE.withDescription(name + " failed this call on purpose").asException());
      return;
    }
    long latency = latencyNanos.get() + coldLatencyNanos();
    if (latency > 0) {
      timer.schedule(() -> reply(response), latency, TimeUnit.NANOSECONDS);
    } else {
      reply(response);
    }
  }

  private long coldLatencyNanos() {
    long left = coldUntilNanos - System.nanoTime();
    return left <= 0 ? 0 : (long) (coldStartNanos * ((double) left / coldWindowNanos));
  }

  private void reply(StreamObserver<String> response) {
    served.incrementAndGet();
    response.onNext(name);
    response.onCompleted();
  }

  @Override
  public String toString() {
    return name + "@" + address.getAddress().getHostAddress() + ":" + address.getPort();
  }
}
