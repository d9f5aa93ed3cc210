package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.github.kubegrpclb.core.EndpointAttributes;
import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.core.internal.PolicyCheck;
import io.github.kubegrpclb.core.internal.ResolverObserver;
import io.github.kubegrpclb.core.internal.ResolverTelemetry;
import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.ChannelLogger.ChannelLogLevel;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.grpc.SynchronizationContext;
import io.grpc.SynchronizationContext.ScheduledHandle;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import java.util.logging.Logger;
import javax.annotation.Nullable;

/**
 * Resolves a Service to its pods by watching its EndpointSlices, shared with every other channel to
 * the same Service. Each watch event marks the endpoint set dirty and schedules one recomputation
 * in the SynchronizationContext, so a burst of events becomes one update; {@link #refresh()} maps
 * the slices again only when the watch has changed since the last mapping, so the balancers'
 * refresh on every connection failure costs nothing while the watch is healthy.
 *
 * <p>Errors: once the watch has synced and the slices hold endpoints, an API error is logged and
 * never published over them. Before that, an error fails RPCs with a status that names the API
 * server and says what is wrong (for 401/403, the missing RBAC rule); if the API server has not
 * answered within {@link #FIRST_ANSWER_TIMEOUT}, fail-fast RPCs fail with a status saying so, while
 * wait-for-ready RPCs wait for the endpoints, which flow as soon as the API server answers.
 *
 * <p>With the client's own Service known ({@link ClientIndexWatch}), the resolver also watches that
 * Service's slices and publishes this pod's position among its pods as {@link
 * EndpointAttributes#CLIENT_INDEX} and their count as {@link EndpointAttributes#CLIENT_COUNT},
 * again whenever either changes. The first result waits for that watch's first list (at most {@link
 * #FIRST_ANSWER_TIMEOUT}), so that a subsetting policy does not connect to one subset and then move
 * to another.
 *
 * <p>State is confined to the channel's SynchronizationContext; watch callbacks only flip an atomic
 * flag and enqueue work there.
 */
final class EndpointSliceNameResolver extends NameResolver {
  /** How long a channel without endpoints waits for the API server before failing RPCs. */
  static final Duration FIRST_ANSWER_TIMEOUT = Duration.ofSeconds(3);

  /** Where the cause of each distinct watch failure is logged, at FINE. */
  static final Logger CAUSES = Logger.getLogger(EndpointSliceNameResolver.class.getName());

  private final KubernetesTarget target;
  private final String namespace;
  private final KubernetesClient client;
  private final ServiceWatches watches;
  @Nullable private final ConfigOrError serviceConfig; // null: the channel's default
  private final PolicyCheck policyCheck;
  private final Attributes resultAttributes;
  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService scheduler;
  private final ChannelLogger logger;
  private final AtomicBoolean updateQueued = new AtomicBoolean();
  private final ResolverObserver observer;
  @Nullable private final ClientIndexWatch.ClientPod clientPod; // null: no client index
  private final Duration idleWatchGrace;
  private final WatchErrors errors;

  private Listener2 listener;
  private ServiceWatches.Subscription subscription; // set by start()
  @Nullable private ScheduledHandle firstAnswerTimer;
  @Nullable private List<EquivalentAddressGroup> published; // null: none yet, or an error since
  @Nullable private ClientIndexWatch clientWatch; // the client's own Service; null: none
  private long mappedClientGeneration = -1;
  @Nullable private ClientPosition publishedPosition; // null: published without a client index
  private boolean clientWaitOver;
  private boolean errorPublished;
  private long mappedGeneration = -1;
  @Nullable private String lastErrorLogged;
  @Nullable private String portNote; // the pod-port trap, for the status of failed RPCs
  private boolean portNoteLogged;
  @Nullable private String publishedPortNote;
  private boolean shutdown;

  EndpointSliceNameResolver(
      KubernetesTarget target,
      String namespace,
      KubernetesClient client,
      ServiceWatches watches,
      @Nullable ConfigOrError serviceConfig,
      Attributes resultAttributes,
      @Nullable ClientIndexWatch.ClientPod clientPod,
      Duration idleWatchGrace,
      LongSupplier nanoClock,
      NameResolver.Args args) {
    this.target = target;
    this.namespace = namespace;
    this.client = client;
    this.watches = watches;
    this.serviceConfig = serviceConfig;
    this.resultAttributes = resultAttributes;
    this.clientPod = clientPod;
    this.idleWatchGrace = idleWatchGrace;
    this.syncContext = args.getSynchronizationContext();
    this.scheduler = args.getScheduledExecutorService();
    this.logger = args.getChannelLogger();
    this.observer =
        new ResolverObserver(
            resultAttributes.get(LbTelemetry.ATTRIBUTE),
            resultAttributes.get(ResolverObserver.TARGET_TEXT),
            "kubernetes",
            nanoClock);
    this.errors = new WatchErrors(namespace, target.service, observer);
    this.policyCheck =
        new PolicyCheck(
            target.policy,
            resultAttributes.get(ResolverObserver.TARGET_TEXT),
            "EndpointSliceOptions");
  }

  /**
   * The host as the target wrote it ({@code my-svc.my-ns.svc.cluster.local}, {@code my-svc.my-ns},
   * {@code my-svc}; {@code my-svc.my-ns} for {@code kubernetes://my-ns/my-svc}), plus the port when
   * it is a number: what TLS verifies the server's certificate against.
   */
  @Override
  public String getServiceAuthority() {
    return target.authority();
  }

  @Override
  public void start(Listener2 listener) {
    if (this.listener != null) {
      throw new IllegalStateException("already started");
    }
    this.listener = listener;
    subscription =
        watches.subscribe(client, namespace, target.service, idleWatchGrace, this::onWatchEvent);
    ServiceWatches.Subscription watch = subscription;
    observer.start(() -> watch.synced() && watch.lastError() == null);
    if (clientPod != null) {
      clientWatch =
          new ClientIndexWatch(
              watches, client, clientPod, idleWatchGrace, logger, this::onClientEvent);
    }
    if (!subscription.synced() || (clientWatch != null && clientWatch.listing())) {
      firstAnswerTimer =
          syncContext.schedule(
              this::onFirstAnswerTimeout,
              FIRST_ANSWER_TIMEOUT.toMillis(),
              TimeUnit.MILLISECONDS,
              scheduler);
    }
    if (!updateQueued.get()) { // else subscribing notified us, and the update is queued already
      update();
    }
  }

  /**
   * Watch-driven, so there is nothing to poll: re-creates an informer whose creation failed, and
   * maps the slices again only if the watch changed since the last mapping or the last result was
   * an error.
   */
  @Override
  public void refresh() {
    if (subscription == null || shutdown) {
      return;
    }
    subscription.retryIfFailed();
    if (portNote != null && !portNoteLogged) {
      // A connection failed or closed: a pod port that works never gets here, so no noise then.
      portNoteLogged = true;
      logger.log(ChannelLogLevel.WARNING, "EndpointSlices: {0}", portNote);
    }
    if (clientWatch != null) {
      clientWatch.retryIfFailed();
    }
    if (!updateQueued.get()) {
      update();
    }
  }

  @Override
  public void shutdown() {
    shutdown = true;
    observer.shutdown();
    cancelFirstAnswerTimer();
    if (subscription != null) {
      subscription.close();
    }
    if (clientWatch != null) {
      clientWatch.close();
    }
  }

  /** Called on the informer's thread. */
  private void onWatchEvent() {
    observer.eventArrived();
    if (updateQueued.compareAndSet(false, true)) {
      syncContext.execute(this::update);
    }
  }

  /** Called on the informer's thread, for the client's own Service. */
  private void onClientEvent() {
    if (updateQueued.compareAndSet(false, true)) {
      syncContext.execute(this::update);
    }
  }

  private void update() {
    updateQueued.set(false);
    if (shutdown || listener == null) {
      return;
    }
    long generation = subscription.generation(); // before the slices: a later event maps again
    long clientGeneration = clientWatch == null ? -1 : clientWatch.generation();
    if (generation == mappedGeneration
        && clientGeneration == mappedClientGeneration
        && !errorPublished) {
      return; // the same slices as last time, already published
    }
    Throwable error = subscription.lastError();
    errors.count(error, subscription.apiServer());
    if (!subscription.synced()) {
      if (error != null) {
        publishError(Status.UNAVAILABLE.withDescription(describe(error)));
      }
      return;
    }
    boolean waitForClientWatch =
        clientWatch != null && clientWatch.listing() && !clientWaitOver && published == null;
    if (!waitForClientWatch) {
      cancelFirstAnswerTimer();
    }
    StatusOr<List<EquivalentAddressGroup>> result =
        EndpointSliceMapper.map(
            subscription.slices(), service(), target.portName, target.portNumber);
    mappedGeneration = generation;
    if (!result.hasValue()) {
      observer.failed(ResolverTelemetry.INVALID_ENDPOINTS, result.getStatus().getDescription());
      if (published == null || published.isEmpty()) {
        publishError(result.getStatus());
      } else {
        logOnce(
            result.getStatus().getDescription()
                + "; keeping the last "
                + published.size()
                + " endpoints");
      }
      return;
    }
    if (error != null) {
      if (result.getValue().isEmpty()) {
        publishError(Status.UNAVAILABLE.withDescription(describe(error)));
        return;
      }
      // The cache holds what the API server last said: never fail RPCs over it.
      logOnce(
          describe(error) + "; using the " + result.getValue().size() + " endpoints last listed");
    }
    if (waitForClientWatch) {
      return; // its first list (or the first-answer timer) calls update() again
    }
    mappedClientGeneration = clientGeneration;
    portNote =
        EndpointSliceMapper.portNotAmongPods(
            subscription.slices(), service(), target.portName == null ? target.portNumber : 0);
    publish(result.getValue(), clientWatch == null ? null : clientWatch.position());
  }

  private void onFirstAnswerTimeout() {
    firstAnswerTimer = null;
    clientWaitOver = true;
    if (shutdown || published != null || errorPublished) {
      return;
    }
    if (subscription.synced()) { // its update is queued, or only the client's Service is missing
      if (clientWatch != null) {
        clientWatch.noAnswerWithin(FIRST_ANSWER_TIMEOUT);
      }
      mappedGeneration = -1; // map and publish now
      update();
      return;
    }
    Throwable error = subscription.lastError();
    publishError(
        Status.UNAVAILABLE.withDescription(
            "no answer from the Kubernetes API server at "
                + subscription.apiServer()
                + " within "
                + FIRST_ANSWER_TIMEOUT.toSeconds()
                + " s to the list of EndpointSlices of "
                + service()
                + (error == null ? " (still trying)" : ": " + describe(error))));
  }

  private void cancelFirstAnswerTimer() {
    if (firstAnswerTimer != null) {
      firstAnswerTimer.cancel();
      firstAnswerTimer = null;
    }
  }

  private void publish(List<EquivalentAddressGroup> groups, @Nullable ClientPosition client) {
    if (groups.equals(published)
        && Objects.equals(client, publishedPosition)
        && Objects.equals(portNote, publishedPortNote)) {
      observer.unchanged();
      return;
    }
    published = groups;
    publishedPosition = client;
    publishedPortNote = portNote;
    errorPublished = false;
    lastErrorLogged = null;
    Attributes.Builder attributes = policyCheck.addTo(resultAttributes.toBuilder());
    if (client != null) {
      attributes.set(EndpointAttributes.CLIENT_INDEX, client.index());
      attributes.set(EndpointAttributes.CLIENT_COUNT, client.count());
    }
    if (portNote != null && !groups.isEmpty()) {
      attributes.set(EndpointAttributes.RESOLUTION_NOTE, portNote);
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
    observer.published(groups);
    listener.onResult2(result.build());
    if (!groups.isEmpty()) {
      policyCheck.published();
    }
  }

  private void publishError(Status status) {
    published = null;
    errorPublished = true;
    listener.onResult2(
        ResolutionResult.newBuilder().setAddressesOrError(StatusOr.fromStatus(status)).build());
  }

  private void logOnce(String message) {
    if (!message.equals(lastErrorLogged)) {
      lastErrorLogged = message;
      logger.log(ChannelLogLevel.WARNING, "{0}", message);
    }
  }

  private String describe(Throwable error) {
    return errors.describe(error, subscription.apiServer());
  }

  private String service() {
    return namespace + "/" + target.service;
  }
}
