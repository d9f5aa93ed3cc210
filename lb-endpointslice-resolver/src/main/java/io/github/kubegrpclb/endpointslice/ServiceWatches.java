package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import javax.annotation.Nullable;

/**
 * Shares one EndpointSlice informer (list + watch, label {@code kubernetes.io/service-name}) per
 * (client, namespace, service) among every channel that resolves that service. When the last
 * channel lets go (it shuts down, or enters idle mode), the watch is kept for that channel's {@link
 * EndpointSliceOptions#idleWatchGrace()} and then stopped: a channel that leaves idle within it
 * finds the watch synced, with no new LIST, and keeps its endpoints through an API server outage.
 * The informer keeps its cache across API-server restarts and relists after 410 Gone by itself;
 * errors are kept so resolvers can report them, until the watch is established again. An informer
 * that could not be created is created again on {@link Subscription#retryIfFailed()}.
 *
 * <p>The informer's requests are not retried by the HTTP layer (fabric8 retries a refused connect
 * for about 20 s by default): each failure reaches the informer, which reports it and retries the
 * list and watch with its own backoff (1 s doubling to 32 s). fabric8 has no jitter in that
 * backoff, so each watch's re-watch schedule starts from its own random base (see {@link #JITTER}).
 *
 * <p>Thread-safe: the registry is guarded by its own lock; a watch's lifecycle by the watch's lock;
 * its state is volatile and its subscribers are a concurrent set, notified on the informer's
 * thread. Kept watches end on the scheduler given to the constructor.
 */
final class ServiceWatches {
  static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

  /**
   * Each watch's re-watch backoff base is fabric8's (1 s by default) times a factor drawn uniformly
   * from [1 - JITTER, 1 + JITTER): after an API server restart the clients' reconnects, and the
   * relists that follow them, spread over a second at the first attempt, two at the second, and so
   * on, instead of arriving together at 1, 2, 4 ... s.
   */
  static final double JITTER = 0.5;

  /** How often a kept watch checks whether its client was closed. */
  static final Duration CLOSED_CHECK = Duration.ofSeconds(1);

  /** The one registry of the JVM's resolvers: the system scheduler and randomness. */
  static final ServiceWatches SHARED =
      new ServiceWatches(graceTimer(), () -> ThreadLocalRandom.current().nextDouble());

  private final Map<Key, ServiceWatch> watches = new HashMap<>();
  private final ScheduledExecutorService scheduler;
  private final DoubleSupplier random;

  /**
   * @param scheduler ends kept watches when their grace is over
   * @param random uniform in [0, 1), for the reconnect jitter
   */
  ServiceWatches(ScheduledExecutorService scheduler, DoubleSupplier random) {
    this.scheduler = scheduler;
    this.random = random;
  }

  /**
   * Subscribes {@code onChange} to the service's slices, starting the informer if needed, or taking
   * over a kept one. Never throws: a failure to create the informer is the subscription's {@link
   * Subscription#lastError}.
   *
   * @param grace how long the watch is kept once this subscription is the last one to close
   */
  Subscription subscribe(
      KubernetesClient client,
      String namespace,
      String service,
      Duration grace,
      Runnable onChange) {
    Key key = new Key(client, namespace, service);
    ServiceWatch watch;
    synchronized (this) {
      watch = watches.computeIfAbsent(key, k -> new ServiceWatch(k, jitteredFactor()));
      watch.subscribers.add(onChange);
      watch.cancelTimers();
    }
    watch.startIfNotRunning();
    return new Subscription(key, watch, onChange, grace);
  }

  /** Watches held by at least one channel (for tests and diagnostics). */
  synchronized int activeWatches() {
    int active = 0;
    for (ServiceWatch watch : watches.values()) {
      active += watch.subscribers.isEmpty() ? 0 : 1;
    }
    return active;
  }

  /** True while a watch of this Service runs, held or kept (for tests and diagnostics). */
  synchronized boolean watching(KubernetesClient client, String namespace, String service) {
    return watches.containsKey(new Key(client, namespace, service));
  }

  /** Watches no channel holds, kept until their grace is over (for tests and diagnostics). */
  synchronized int keptWatches() {
    return watches.size() - activeWatches();
  }

  private void release(Key key, ServiceWatch watch, Runnable subscriber, Duration grace) {
    boolean stopNow = false;
    synchronized (this) {
      watch.subscribers.remove(subscriber);
      if (watch.subscribers.isEmpty() && watches.get(key) == watch) {
        if (grace.isZero() || ServiceWatch.clientClosed(key.client())) {
          watches.remove(key);
          stopNow = true;
        } else {
          watch.expiry =
              scheduler.schedule(() -> expire(key, watch), grace.toNanos(), TimeUnit.NANOSECONDS);
          // A kept watch of a client closed meanwhile (its owner is done with it) ends within a
          // second: its open connection would otherwise outlive the client for the whole grace.
          watch.closedCheck =
              scheduler.scheduleWithFixedDelay(
                  () -> {
                    if (ServiceWatch.clientClosed(key.client())) {
                      expire(key, watch);
                    }
                  },
                  CLOSED_CHECK.toNanos(),
                  CLOSED_CHECK.toNanos(),
                  TimeUnit.NANOSECONDS);
        }
      }
    }
    if (stopNow) {
      watch.stop();
    }
  }

  /** The grace of a kept watch is over: stop it, unless a channel took it over meanwhile. */
  private void expire(Key key, ServiceWatch watch) {
    synchronized (this) {
      if (!watch.subscribers.isEmpty() || watches.get(key) != watch) {
        return;
      }
      watches.remove(key);
      watch.cancelTimers();
    }
    watch.stop();
  }

  private double jitteredFactor() {
    return 1 - JITTER + 2 * JITTER * random.getAsDouble();
  }

  /**
   * The system timer of {@link #SHARED}: one daemon thread while a kept watch waits, none otherwise
   * (the thread times out when idle, so a JVM without kept watches holds no thread for them).
   */
  private static ScheduledExecutorService graceTimer() {
    ScheduledThreadPoolExecutor timer =
        new ScheduledThreadPoolExecutor(
            1,
            runnable -> {
              Thread thread = new Thread(runnable, "kube-grpc-lb-watch-grace");
              thread.setDaemon(true);
              return thread;
            });
    timer.setKeepAliveTime(1, TimeUnit.SECONDS);
    timer.allowCoreThreadTimeOut(true);
    timer.setRemoveOnCancelPolicy(true);
    return timer;
  }

  /** One channel's hold on a shared watch. */
  final class Subscription implements AutoCloseable {
    private final Key key;
    private final ServiceWatch watch;
    private final Runnable subscriber;
    private final Duration grace;
    private boolean closed;

    private Subscription(Key key, ServiceWatch watch, Runnable subscriber, Duration grace) {
      this.key = key;
      this.watch = watch;
      this.subscriber = subscriber;
      this.grace = grace;
    }

    /** True once the initial list has completed. */
    boolean synced() {
      return watch.synced;
    }

    /**
     * Increases whenever what this subscription reports may have changed: a slice event, the
     * initial sync, a new error. Equal values mean equal slices.
     */
    long generation() {
      return watch.generation.get();
    }

    /**
     * The latest error from the API server, or null when there was none since the watch was last
     * established (fabric8's relist emits no event for unchanged slices, so an established watch is
     * what says the error is over).
     */
    @Nullable
    Throwable lastError() {
      Throwable error = watch.lastError;
      SharedIndexInformer<EndpointSlice> informer = watch.informer;
      if (error != null && informer != null && informer.isWatching()) {
        watch.clearError(error);
        return null;
      }
      return error;
    }

    /** The service's slices as the informer's cache holds them now. */
    List<EndpointSlice> slices() {
      SharedIndexInformer<EndpointSlice> informer = watch.informer;
      return informer == null ? List.of() : informer.getStore().list();
    }

    /** The API server this watch talks to, for messages. */
    String apiServer() {
      try {
        return String.valueOf(key.client().getMasterUrl());
      } catch (RuntimeException e) {
        return "(unknown: " + e + ")"; // a broken client: the error says more
      }
    }

    /** Creates the informer again if creating it threw; a no-op otherwise. */
    void retryIfFailed() {
      if (!closed) {
        watch.startIfNotRunning();
      }
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        release(key, watch, subscriber, grace);
      }
    }
  }

  /** Watches are shared per client instance (identity, not equality), namespace and Service. */
  record Key(KubernetesClient client, String namespace, String service) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Key other
          && other.client == client
          && other.namespace.equals(namespace)
          && other.service.equals(service);
    }

    @Override
    public int hashCode() {
      return Objects.hash(System.identityHashCode(client), namespace, service);
    }
  }
}
