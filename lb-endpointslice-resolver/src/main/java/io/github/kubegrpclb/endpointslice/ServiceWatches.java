package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.RequestConfig;
import io.fabric8.kubernetes.client.RequestConfigBuilder;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.net.HttpURLConnection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.atomic.AtomicLong;
import javax.annotation.Nullable;

/**
 * Shares one EndpointSlice informer (list + watch, label {@code kubernetes.io/service-name}) per
 * (client, namespace, service) among every channel that resolves that service, and stops it when
 * the last channel lets go. The informer keeps its cache across API-server restarts and relists
 * after 410 Gone by itself; errors are kept so resolvers can report them, until the watch is
 * established again. An informer that could not be created is created again on {@link
 * Subscription#retryIfFailed()}.
 *
 * <p>The informer's requests are not retried by the HTTP layer (fabric8 retries a refused connect
 * for about 20 s by default): each failure reaches the informer, which reports it and retries the
 * list and watch with its own backoff (1 s doubling to 32 s).
 *
 * <p>Thread-safe: the registry is guarded by its own lock; a watch's lifecycle by the watch's lock;
 * its state is volatile and its subscribers are a concurrent set, notified on the informer's
 * thread.
 */
final class ServiceWatches {
  static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";
  static final ServiceWatches SHARED = new ServiceWatches();

  private final Map<Key, Watch> watches = new HashMap<>();

  /**
   * Subscribes {@code onChange} to the service's slices, starting the informer if needed. Never
   * throws: a failure to create the informer is the subscription's {@link Subscription#lastError}.
   */
  Subscription subscribe(
      KubernetesClient client, String namespace, String service, Runnable onChange) {
    Key key = new Key(client, namespace, service);
    Watch watch;
    synchronized (this) {
      watch = watches.computeIfAbsent(key, k -> new Watch(k));
      watch.subscribers.add(onChange);
    }
    watch.startIfNotRunning();
    return new Subscription(key, watch, onChange);
  }

  /** Informers running now (for tests and diagnostics). */
  synchronized int activeWatches() {
    return watches.size();
  }

  private void release(Key key, Watch watch, Runnable subscriber) {
    boolean last;
    synchronized (this) {
      watch.subscribers.remove(subscriber);
      last = watch.subscribers.isEmpty() && watches.get(key) == watch;
      if (last) {
        watches.remove(key);
      }
    }
    if (last) {
      watch.stop();
    }
  }

  /** One channel's hold on a shared watch. */
  final class Subscription implements AutoCloseable {
    private final Key key;
    private final Watch watch;
    private final Runnable subscriber;
    private boolean closed;

    private Subscription(Key key, Watch watch, Runnable subscriber) {
      this.key = key;
      this.watch = watch;
      this.subscriber = subscriber;
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
        release(key, watch, subscriber);
      }
    }
  }

  /** Watches are shared per client instance (identity, not equality), namespace and Service. */
  private record Key(KubernetesClient client, String namespace, String service) {
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

  private static final class Watch implements ResourceEventHandler<EndpointSlice> {
    final Key key;
    final Set<Runnable> subscribers = new CopyOnWriteArraySet<>();
    final AtomicLong generation = new AtomicLong();
    @Nullable volatile SharedIndexInformer<EndpointSlice> informer;
    volatile boolean synced;
    @Nullable volatile Throwable lastError;
    private boolean stopped;

    Watch(Key key) {
      this.key = key;
    }

    /** Creates and starts the informer unless it runs; a failure becomes {@link #lastError}. */
    synchronized void startIfNotRunning() {
      if (informer != null || stopped) {
        return;
      }
      SharedIndexInformer<EndpointSlice> created = null;
      try {
        created =
            withoutHttpRetries(key.client())
                .discovery()
                .v1()
                .endpointSlices()
                .inNamespace(key.namespace())
                .withLabel(SERVICE_NAME_LABEL, key.service())
                .runnableInformer(0);
        created.addEventHandler(this);
        created.exceptionHandler(
            (isStarted, error) -> {
              if (!isGone(error)) {
                onError(error); // 410 Gone only means "list again", which the informer does
              }
              return true; // keep retrying with the informer's backoff: RBAC may be fixed later
            });
        informer = created;
        created
            .start()
            .whenComplete(
                (ignored, error) -> {
                  if (error == null) {
                    synced = true;
                    lastError = null;
                    changed();
                  } else {
                    onError(error);
                  }
                });
      } catch (RuntimeException e) {
        // E.g. a caller's client that is closed already: report it, and try again on refresh.
        informer = null;
        if (created != null) {
          stopQuietly(created);
        }
        onError(e);
      }
    }

    synchronized void stop() {
      stopped = true;
      if (informer != null) {
        stopQuietly(informer);
      }
    }

    void clearError(Throwable error) {
      if (lastError == error) {
        lastError = null;
      }
    }

    private void onError(Throwable error) {
      lastError = error;
      changed();
    }

    private void changed() {
      generation.incrementAndGet();
      for (Runnable subscriber : subscribers) {
        subscriber.run();
      }
    }

    @Override
    public void onAdd(EndpointSlice slice) {
      lastError = null; // an event means the watch works again
      changed();
    }

    @Override
    public void onUpdate(EndpointSlice oldSlice, EndpointSlice newSlice) {
      lastError = null;
      changed();
    }

    @Override
    public void onDelete(EndpointSlice slice, boolean deletedFinalStateUnknown) {
      lastError = null;
      changed();
    }

    private static boolean isGone(Throwable error) {
      for (Throwable t = error; t != null; t = t.getCause()) {
        if (t instanceof KubernetesClientException
            && ((KubernetesClientException) t).getCode() == HttpURLConnection.HTTP_GONE) {
          return true;
        }
      }
      return false;
    }

    private static void stopQuietly(SharedIndexInformer<EndpointSlice> informer) {
      try {
        informer.stop();
      } catch (RuntimeException e) {
        // already failed or closed with its client: nothing is left running
      }
    }

    /**
     * The same client (connections, credentials, executor) with HTTP-level retries off for this
     * watch's requests, so that a refused or failed list reaches the exception handler at once
     * instead of after fabric8's ten retries.
     */
    private static KubernetesClient withoutHttpRetries(KubernetesClient client) {
      RequestConfig config;
      try {
        RequestConfig current = client.getConfiguration().getRequestConfig();
        config = new RequestConfigBuilder(current).build();
        config.setImpersonateUsername(current.getImpersonateUsername());
        config.setImpersonateGroups(current.getImpersonateGroups());
        config.setImpersonateExtras(current.getImpersonateExtras());
      } catch (RuntimeException e) {
        return client; // a client without a configuration to derive from: use it as it is
      }
      config.setRequestRetryBackoffLimit(0);
      return client.newClient(config).adapt(KubernetesClient.class);
    }
  }
}
