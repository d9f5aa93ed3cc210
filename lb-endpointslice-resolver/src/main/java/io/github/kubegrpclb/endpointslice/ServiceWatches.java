package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;

/**
 * Shares one EndpointSlice informer (list + watch, label {@code kubernetes.io/service-name}) per
 * (client, namespace, service) among every channel that resolves that service, and stops it when
 * the last channel lets go. The informer keeps its cache across API-server restarts and relists
 * after 410 Gone by itself; errors are kept so resolvers can report them.
 *
 * <p>Thread-safe: the registry is guarded by its own lock; a watch's state is volatile and its
 * subscribers are a concurrent set, notified on the informer's thread.
 */
final class ServiceWatches {
  static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";
  static final ServiceWatches SHARED = new ServiceWatches();

  private final Map<Key, Watch> watches = new HashMap<>();

  /** Subscribes {@code onChange} to the service's slices, starting the informer if needed. */
  Subscription subscribe(
      KubernetesClient client, String namespace, String service, Runnable onChange) {
    Key key = new Key(client, namespace, service);
    Watch watch;
    synchronized (this) {
      watch = watches.computeIfAbsent(key, k -> new Watch(k));
      watch.subscribers.add(onChange);
    }
    watch.startOnce();
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

    /** The latest error from the API server, or null once the watch works. */
    Throwable lastError() {
      return watch.lastError;
    }

    /** The service's slices as the informer's cache holds them now. */
    List<EndpointSlice> slices() {
      SharedIndexInformer<EndpointSlice> informer = watch.informer;
      return informer == null ? List.of() : informer.getStore().list();
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        release(key, watch, subscriber);
      }
    }
  }

  private static final class Key {
    final KubernetesClient client;
    final String namespace;
    final String service;

    Key(KubernetesClient client, String namespace, String service) {
      this.client = client;
      this.namespace = namespace;
      this.service = service;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Key
          && ((Key) o).client == client
          && ((Key) o).namespace.equals(namespace)
          && ((Key) o).service.equals(service);
    }

    @Override
    public int hashCode() {
      return Objects.hash(System.identityHashCode(client), namespace, service);
    }
  }

  private static final class Watch implements ResourceEventHandler<EndpointSlice> {
    final Key key;
    final Set<Runnable> subscribers = new CopyOnWriteArraySet<>();
    volatile SharedIndexInformer<EndpointSlice> informer;
    volatile boolean synced;
    volatile Throwable lastError;
    private boolean started;
    private boolean stopped;

    Watch(Key key) {
      this.key = key;
    }

    synchronized void startOnce() {
      if (started || stopped) {
        return;
      }
      started = true;
      SharedIndexInformer<EndpointSlice> created =
          key.client
              .discovery()
              .v1()
              .endpointSlices()
              .inNamespace(key.namespace)
              .withLabel(SERVICE_NAME_LABEL, key.service)
              .runnableInformer(0);
      created.addEventHandler(this);
      created.exceptionHandler(
          (isStarted, error) -> {
            lastError = error;
            notifySubscribers();
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
                } else {
                  lastError = error;
                }
                notifySubscribers();
              });
    }

    synchronized void stop() {
      stopped = true;
      if (informer != null) {
        informer.stop();
      }
    }

    private void notifySubscribers() {
      for (Runnable subscriber : subscribers) {
        subscriber.run();
      }
    }

    private void changed() {
      lastError = null; // an event means the watch works again
      notifySubscribers();
    }

    @Override
    public void onAdd(EndpointSlice slice) {
      changed();
    }

    @Override
    public void onUpdate(EndpointSlice oldSlice, EndpointSlice newSlice) {
      changed();
    }

    @Override
    public void onDelete(EndpointSlice slice, boolean deletedFinalStateUnknown) {
      changed();
    }
  }
}
