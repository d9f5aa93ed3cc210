package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.github.kubegrpclb.core.EndpointAttributes;
import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.ChannelLogger.ChannelLogLevel;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.grpc.SynchronizationContext;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Resolves a Service to its pods by watching its EndpointSlices, shared with every other channel to
 * the same Service. Each watch event marks the endpoint set dirty and schedules one recomputation
 * in the SynchronizationContext, so a burst of events becomes one update. API errors keep the last
 * good endpoints and are logged; before any endpoints were published they fail RPCs with a status
 * that says what is wrong (for 401/403, the missing RBAC rule).
 *
 * <p>State is confined to the channel's SynchronizationContext; watch callbacks only flip an atomic
 * flag and enqueue work there.
 */
final class EndpointSliceNameResolver extends NameResolver {
  private final KubernetesTarget target;
  private final String namespace;
  private final KubernetesClient client;
  private final ServiceWatches watches;
  private final ConfigOrError serviceConfig;
  private final String clientZone;
  private final SynchronizationContext syncContext;
  private final ChannelLogger logger;
  private final AtomicBoolean updateQueued = new AtomicBoolean();

  private Listener2 listener;
  private ServiceWatches.Subscription subscription;
  private List<EquivalentAddressGroup> published;
  private String lastErrorLogged;
  private boolean shutdown;

  EndpointSliceNameResolver(
      KubernetesTarget target,
      String namespace,
      KubernetesClient client,
      ServiceWatches watches,
      ConfigOrError serviceConfig,
      String clientZone,
      SynchronizationContext syncContext,
      ChannelLogger logger) {
    this.target = target;
    this.namespace = namespace;
    this.client = client;
    this.watches = watches;
    this.serviceConfig = serviceConfig;
    this.clientZone = clientZone;
    this.syncContext = syncContext;
    this.logger = logger;
  }

  @Override
  public String getServiceAuthority() {
    String host = target.service + "." + namespace;
    return target.portNumber > 0 ? host + ":" + target.portNumber : host;
  }

  @Override
  public void start(Listener2 listener) {
    if (this.listener != null) {
      throw new IllegalStateException("already started");
    }
    this.listener = listener;
    try {
      subscription = watches.subscribe(client, namespace, target.service, this::onWatchEvent);
    } catch (RuntimeException e) {
      publishError(
          Status.UNAVAILABLE
              .withDescription("cannot watch EndpointSlices of " + service() + ": " + e)
              .withCause(e));
      return;
    }
    update();
  }

  /** Watch-driven: there is nothing to poll. Republishes what the cache holds. */
  @Override
  public void refresh() {
    if (subscription != null && !shutdown) {
      update();
    }
  }

  @Override
  public void shutdown() {
    shutdown = true;
    if (subscription != null) {
      subscription.close();
    }
  }

  /** Called on the informer's thread. */
  private void onWatchEvent() {
    if (updateQueued.compareAndSet(false, true)) {
      syncContext.execute(this::update);
    }
  }

  private void update() {
    updateQueued.set(false);
    if (shutdown || listener == null) {
      return;
    }
    Throwable error = subscription.lastError();
    if (!subscription.synced()) {
      if (error != null) {
        reportError(error);
      }
      return;
    }
    EndpointSliceMapper.Result result =
        EndpointSliceMapper.map(
            subscription.slices(), service(), target.portName, target.portNumber);
    if (result.error != null) {
      if (published == null || published.isEmpty()) {
        publishError(Status.UNAVAILABLE.withDescription(result.error));
      } else if (!result.error.equals(lastErrorLogged)) {
        lastErrorLogged = result.error;
        logger.log(ChannelLogLevel.WARNING, "{0}; keeping the last endpoints", result.error);
      }
      return;
    }
    if (error != null) {
      reportError(error); // logged; the cache still holds the last good slices
    }
    publish(result.groups);
  }

  private void publish(List<EquivalentAddressGroup> groups) {
    if (groups.equals(published)) {
      return;
    }
    published = groups;
    Attributes.Builder attributes = Attributes.newBuilder();
    if (clientZone != null) {
      attributes.set(EndpointAttributes.CLIENT_ZONE, clientZone);
    }
    if (groups.isEmpty()) {
      attributes.set(
          EndpointAttributes.RESOLUTION_NOTE,
          "the EndpointSlices of "
              + service()
              + " list no ready or serving endpoint (no such Service, or no ready pod?)");
    }
    ResolutionResult.Builder result =
        ResolutionResult.newBuilder()
            .setAddressesOrError(StatusOr.fromValue(groups))
            .setAttributes(attributes.build());
    if (serviceConfig != null) {
      result.setServiceConfig(serviceConfig);
    }
    logger.log(
        ChannelLogLevel.DEBUG, "EndpointSlices of {0}: {1} endpoints", service(), groups.size());
    listener.onResult2(result.build());
  }

  private void reportError(Throwable error) {
    String message = describe(error);
    if (published == null) {
      publishError(Status.UNAVAILABLE.withDescription(message).withCause(error));
    } else if (!message.equals(lastErrorLogged)) {
      lastErrorLogged = message;
      logger.log(
          ChannelLogLevel.WARNING,
          "{0}; keeping the last {1} endpoints",
          message,
          published.size());
    }
  }

  private void publishError(Status status) {
    listener.onResult2(
        ResolutionResult.newBuilder().setAddressesOrError(StatusOr.fromStatus(status)).build());
  }

  private String describe(Throwable error) {
    int code = 0;
    for (Throwable t = error; t != null && code == 0; t = t.getCause()) {
      if (t instanceof KubernetesClientException) {
        code = ((KubernetesClientException) t).getCode();
      }
    }
    if (code == 403) {
      return "watching EndpointSlices of "
          + service()
          + " was refused (403 Forbidden): the service account needs get, list and watch on"
          + " endpointslices.discovery.k8s.io in namespace "
          + namespace
          + " (a Role and RoleBinding: see examples/k8s/rbac.yaml)";
    }
    if (code == 401) {
      return "watching EndpointSlices of "
          + service()
          + " was refused (401 Unauthorized): the API server rejected the client's credentials"
          + " (service-account token or kubeconfig)";
    }
    return "watching EndpointSlices of " + service() + " failed: " + error;
  }

  private String service() {
    return namespace + "/" + target.service;
  }
}
