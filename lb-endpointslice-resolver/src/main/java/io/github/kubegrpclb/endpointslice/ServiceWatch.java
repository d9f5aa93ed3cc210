package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.RequestConfig;
import io.fabric8.kubernetes.client.RequestConfigBuilder;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.net.HttpURLConnection;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicLong;
import javax.annotation.Nullable;

/**
 * One running EndpointSlice informer of one Service, shared by the channels {@link ServiceWatches}
 * subscribed to it: it notifies them of every change and keeps the latest API error until the watch
 * works again. It creates its informer against a copy of the client without HTTP-level retries and
 * with its own jittered re-watch backoff base, and creates it again on demand if creating it threw.
 * Thread-safe: its lifecycle is guarded by its own lock, its state is volatile, its subscribers a
 * concurrent set notified on the informer's thread; the kept-watch timers are guarded by the
 * registry's lock.
 */
final class ServiceWatch implements ResourceEventHandler<EndpointSlice> {
  final ServiceWatches.Key key;
  final double reconnectFactor; // this watch's jitter of fabric8's reconnect backoff
  final Set<Runnable> subscribers = new CopyOnWriteArraySet<>();
  final AtomicLong generation = new AtomicLong();
  @Nullable volatile SharedIndexInformer<EndpointSlice> informer;
  volatile boolean synced;
  @Nullable volatile Throwable lastError;
  // Guarded by the registry; set while kept without channels.
  @Nullable ScheduledFuture<?> expiry;
  @Nullable ScheduledFuture<?> closedCheck;
  private boolean stopped;

  ServiceWatch(ServiceWatches.Key key, double reconnectFactor) {
    this.key = key;
    this.reconnectFactor = reconnectFactor;
  }

  /** Cancels the timers of a kept watch; called with the registry's lock held. */
  void cancelTimers() {
    if (expiry != null) {
      expiry.cancel(false);
      expiry = null;
    }
    if (closedCheck != null) {
      closedCheck.cancel(false);
      closedCheck = null;
    }
  }

  /** Creates and starts the informer unless it runs; a failure becomes {@link #lastError}. */
  synchronized void startIfNotRunning() {
    if (informer != null || stopped) {
      return;
    }
    SharedIndexInformer<EndpointSlice> created = null;
    try {
      created =
          withoutHttpRetries(key.client(), reconnectFactor)
              .discovery()
              .v1()
              .endpointSlices()
              .inNamespace(key.namespace())
              .withLabel(ServiceWatches.SERVICE_NAME_LABEL, key.service())
              .runnableInformer(0);
      created.addEventHandler(this);
      created.exceptionHandler(
          (isStarted, error) -> {
            if (!isGone(error)) {
              onError(error); // 410 Gone only means "list again", which the informer does
            }
            // Keep retrying with the informer's backoff (RBAC may be fixed later), unless the
            // client is closed and no channel holds the watch: it cannot work again.
            return !(subscribers.isEmpty() && clientClosed(key.client()));
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

  /** Whether the client is closed; false when it cannot say. */
  static boolean clientClosed(KubernetesClient client) {
    try {
      return client.getHttpClient().isClosed();
    } catch (RuntimeException e) {
      return false; // a client that cannot say: keep the watch for its grace
    }
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
   * instead of after fabric8's ten retries, and with this watch's jittered re-watch backoff base
   * (fabric8 doubles it per attempt, without jitter of its own).
   */
  private static KubernetesClient withoutHttpRetries(
      KubernetesClient client, double reconnectFactor) {
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
    Integer base = config.getWatchReconnectInterval();
    if (base != null && base > 0) {
      config.setWatchReconnectInterval((int) Math.max(1, Math.round(base * reconnectFactor)));
    }
    return client.newClient(config).adapt(KubernetesClient.class);
  }
}
