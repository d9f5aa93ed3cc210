package io.github.kubegrpclb.dns;

import io.github.kubegrpclb.core.EndpointAttributes;
import io.github.kubegrpclb.core.EndpointCondition;
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
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.annotation.Nullable;
import org.xbill.DNS.Name;

/**
 * Resolves a headless Service to one address per ready pod and keeps it fresh: re-queries when the
 * smallest TTL expires (clamped to [ttlFloor, ttlCap]), and at once when the balancer reports a
 * failed connection (at most once per refreshInterval). A transient DNS failure keeps the last good
 * addresses and retries with backoff; an authoritative "no such name/record" publishes an empty set
 * with a note naming the host. SRV targets count one by one: a missing one is dropped, one failing
 * transiently keeps its last known addresses.
 *
 * <p>All state is confined to the channel's SynchronizationContext; DNS answers arrive on dnsjava's
 * threads and hop into it. Timers run on the channel's shared scheduler: no thread per channel.
 */
final class HeadlessDnsNameResolver extends NameResolver {
  private static final Attributes ENDPOINT_ATTRIBUTES =
      EndpointAttributes.of(EndpointCondition.READY, null, Set.of());

  /** Where the cause of each distinct resolution failure is logged, at FINE. */
  static final Logger CAUSES = Logger.getLogger(HeadlessDnsNameResolver.class.getName());

  private final HeadlessTarget target;
  private final HeadlessDnsOptions options;
  private final DnsLookup lookup;
  @Nullable private final ConfigOrError serviceConfig; // null: the channel's default
  private final PolicyCheck policyCheck;
  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService scheduler;
  private final LongSupplier nanoClock;
  private final DoubleSupplier jitter;
  private final ChannelLogger logger;

  private Listener2 listener;
  private boolean shutdown;
  private boolean resolving;
  private boolean refreshWanted;
  private long lastStartNanos;
  @Nullable private ScheduledHandle nextResolution;
  private long scheduledAtNanos;
  private int consecutiveFailures;
  private int negativeStreak; // answers in a row that gave no address
  private long negativeTtlSeconds = Long.MAX_VALUE; // of the latest answer; MAX_VALUE: none
  private final ClusterIpCheck clusterIp;
  @Nullable private String lastFailureLogged;
  @Nullable private List<EquivalentAddressGroup> published;
  @Nullable private String publishedNote;

  /** The addresses of each SRV target (or of the host) at its latest successful lookup. */
  private Map<Name, List<InetAddress>> lastKnown = Map.of();

  private final ResolverObserver observer;

  /**
   * @param jitter returns a uniform double in [0, 1) for backoff jitter
   * @param observer publishes this resolver's telemetry and debug state (the options' telemetry,
   *     the target as written), on {@code nanoClock}
   */
  HeadlessDnsNameResolver(
      HeadlessTarget target,
      HeadlessDnsOptions options,
      DnsLookup lookup,
      @Nullable ConfigOrError serviceConfig,
      SynchronizationContext syncContext,
      ScheduledExecutorService scheduler,
      LongSupplier nanoClock,
      DoubleSupplier jitter,
      ChannelLogger logger,
      ResolverObserver observer) {
    this.target = target;
    this.options = options;
    this.lookup = lookup;
    this.serviceConfig = serviceConfig;
    this.syncContext = syncContext;
    this.scheduler = scheduler;
    this.nanoClock = nanoClock;
    this.jitter = jitter;
    this.logger = logger;
    this.observer = observer;
    this.clusterIp = new ClusterIpCheck(target, logger, nanoClock);
    this.policyCheck = new PolicyCheck(target.policy, String.valueOf(target), "HeadlessDnsOptions");
  }

  @Override
  public String getServiceAuthority() {
    return target.serviceAuthority();
  }

  @Override
  public void start(Listener2 listener) {
    if (this.listener != null) {
      throw new IllegalStateException("already started");
    }
    this.listener = listener;
    observer.start(() -> false);
    resolve();
  }

  /** A connection failed: re-resolve now, or as soon as the rate limit allows. */
  @Override
  public void refresh() {
    if (shutdown || listener == null) {
      return;
    }
    if (negativeStreak > 0) {
      return; // nothing to connect to: the negative backoff's timer decides when to ask again
    }
    if (resolving) {
      refreshWanted = true;
      return;
    }
    long now = nanoClock.getAsLong();
    long allowedAt = lastStartNanos + options.refreshInterval().toNanos();
    if (allowedAt <= now) {
      resolve();
    } else if (nextResolution == null || scheduledAtNanos > allowedAt) {
      schedule(allowedAt - now);
    }
  }

  @Override
  public void shutdown() {
    shutdown = true;
    observer.shutdown();
    cancelScheduled();
  }

  private void schedule(long delayNanos) {
    cancelScheduled();
    scheduledAtNanos = nanoClock.getAsLong() + delayNanos;
    nextResolution =
        syncContext.schedule(this::resolve, delayNanos, TimeUnit.NANOSECONDS, scheduler);
  }

  private void cancelScheduled() {
    if (nextResolution != null) {
      nextResolution.cancel();
      nextResolution = null;
    }
  }

  private void resolve() {
    if (shutdown || resolving) {
      return;
    }
    cancelScheduled();
    resolving = true;
    refreshWanted = false;
    lastStartNanos = nanoClock.getAsLong();
    CompletionStage<DnsLookup.Answer> lookupDone;
    try {
      lookupDone = lookup.resolve(target);
    } catch (RuntimeException e) {
      lookupDone = CompletableFuture.failedFuture(e); // e.g. a name too long for DNS: report it
    }
    lookupDone.whenComplete(
        (answer, error) -> {
          observer.eventArrived();
          syncContext.execute(() -> onAnswer(answer, error));
        });
  }

  private void onAnswer(DnsLookup.Answer answer, Throwable error) {
    resolving = false;
    if (shutdown) {
      return;
    }
    for (long n = lookup.takeTcpFallbacks(); n > 0; n--) {
      observer.noted(ResolverTelemetry.DNS_TCP_FALLBACK);
    }
    negativeTtlSeconds = lookup.takeNegativeTtlSeconds();
    long next;
    if (error == null) {
      next = onTargets(answer);
    } else if (DnsLookup.isNotFound(error)) {
      consecutiveFailures = 0;
      lastKnown = Map.of();
      String note =
          queriedName()
              + ": "
              + DnsErrors.describe(error)
              + " (no ready pod, or a wrong name, namespace or port name?)";
      if (!note.equals(publishedNote)) {
        logger.log(ChannelLogLevel.WARNING, "headless DNS: {0}", note);
      }
      observer.failed(DnsErrors.kind(DnsLookup.unwrap(error)), note);
      publish(List.of(), note);
      next = negativeBackoffNanos();
    } else {
      next = onTransientFailure(DnsErrors.describe(error), DnsLookup.unwrap(error));
    }
    if (refreshWanted) {
      refreshWanted = false;
      next = Math.min(next, Math.max(0, options.refreshInterval().toNanos()));
    }
    schedule(next);
  }

  /* The targets' outcomes merged (TargetOutcomes: issue #10), then published. */
  private long onTargets(DnsLookup.Answer answer) {
    TargetOutcomes outcomes = TargetOutcomes.merge(answer, lastKnown);
    Set<InetSocketAddress> addresses = outcomes.addresses();
    Throwable firstTransient = outcomes.firstTransient();
    String summary = outcomes.summary(queriedName());
    if (addresses.isEmpty() && firstTransient != null) {
      // A transient failure is one of the problems, so the summary is there.
      return onTransientFailure(Objects.requireNonNull(summary, "summary"), firstTransient);
    }
    lastKnown = outcomes.known();
    if (summary != null && !summary.equals(publishedNote)) {
      logger.log(ChannelLogLevel.WARNING, "headless DNS: {0}", summary);
    }
    String hint = clusterIp.check(answer.srvNamesTheService(), addresses);
    publish(
        sorted(addresses), hint == null ? summary : summary == null ? hint : summary + "; " + hint);
    if (addresses.isEmpty()) {
      consecutiveFailures = 0;
      return negativeBackoffNanos();
    }
    negativeStreak = 0;
    if (firstTransient != null) {
      consecutiveFailures++; // retry the failed targets soon, the others still at their TTL
      return Math.min(clampTtl(answer.minTtlSeconds()), backoffNanos(consecutiveFailures));
    }
    consecutiveFailures = 0;
    return clampTtl(answer.minTtlSeconds());
  }

  /** The whole resolution failed transiently: keep the last set, or report with none yet. */
  private long onTransientFailure(String why, Throwable cause) {
    observer.failed(DnsErrors.kind(cause), why);
    // The status below carries `why` but not the cause: grpc-java logs a resolution status at
    // WARNING with its cause's whole stack trace on every retry. The cause is logged here instead,
    // once per distinct failure, at FINE.
    if (!why.equals(lastFailureLogged)) {
      lastFailureLogged = why;
      CAUSES.log(Level.FINE, "headless DNS: resolving " + target + " failed: " + why, cause);
    }
    consecutiveFailures++;
    long next = backoffNanos(consecutiveFailures);
    if (published == null) {
      listener.onResult2(
          ResolutionResult.newBuilder()
              .setAddressesOrError(
                  StatusOr.fromStatus(
                      Status.UNAVAILABLE.withDescription(
                          "headless DNS resolution of "
                              + target
                              + " failed: "
                              + why
                              + "; retrying in "
                              + TimeUnit.NANOSECONDS.toMillis(next)
                              + " ms")))
              .build());
    } else {
      logger.log(
          ChannelLogLevel.WARNING,
          "headless DNS: resolving {0} failed ({1}); keeping the last {2} addresses, retry in {3}"
              + " ms",
          target,
          why,
          published.size(),
          TimeUnit.NANOSECONDS.toMillis(next));
    }
    return next;
  }

  private String queriedName() {
    return target.portName == null ? target.host : "_" + target.portName + "._tcp." + target.host;
  }

  private void publish(List<InetSocketAddress> addresses, @Nullable String note) {
    List<EquivalentAddressGroup> groups = new ArrayList<>(addresses.size());
    for (InetSocketAddress address : addresses) {
      groups.add(new EquivalentAddressGroup(address, ENDPOINT_ATTRIBUTES));
    }
    if (groups.equals(published) && !groups.isEmpty() && Objects.equals(note, publishedNote)) {
      observer.unchanged();
      return; // nothing changed: no work for the balancer
    }
    published = List.copyOf(groups);
    publishedNote = note;
    Attributes.Builder builder = policyCheck.addTo(observer.addTo(Attributes.newBuilder()));
    if (note != null) {
      builder.set(EndpointAttributes.RESOLUTION_NOTE, note);
    }
    Attributes attributes = builder.build();
    ResolutionResult.Builder result =
        ResolutionResult.newBuilder()
            .setAddressesOrError(StatusOr.fromValue(published))
            .setAttributes(attributes);
    if (serviceConfig != null) {
      result.setServiceConfig(serviceConfig);
    }
    logger.log(ChannelLogLevel.DEBUG, "headless DNS: {0} -> {1} addresses", target, groups.size());
    observer.published(published);
    listener.onResult2(result.build());
    if (!published.isEmpty()) {
      policyCheck.published();
    }
  }

  private static List<InetSocketAddress> sorted(Set<InetSocketAddress> addresses) {
    List<InetSocketAddress> list = new ArrayList<>(addresses);
    list.sort(
        Comparator.comparing((InetSocketAddress a) -> a.getAddress().getHostAddress())
            .thenComparingInt(InetSocketAddress::getPort));
    return list;
  }

  private long clampTtl(long ttlSeconds) {
    long ttl = TimeUnit.SECONDS.toNanos(Math.min(ttlSeconds, Long.MAX_VALUE / 1_000_000_000L));
    return Math.max(options.ttlFloor().toNanos(), Math.min(options.ttlCap().toNanos(), ttl));
  }

  /*
   * After NXDOMAIN, NODATA or an answer with no usable address: a misnamed or scaled-to-zero
   * Service. Re-asking every ttlFloor would cost CoreDNS about 8 queries/s per channel (the search
   * path times A and AAAA), so wait the answer's negative-caching TTL (RFC 2308: the SOA minimum,
   * which the server itself caches the negative answer for), clamped to [ttlFloor, ttlCap]; without
   * one, back off exponentially from ttlFloor to 8 x ttlFloor (within ttlCap).
   */
  private long negativeBackoffNanos() {
    negativeStreak++;
    long soaTtl = negativeTtlSeconds;
    if (soaTtl != Long.MAX_VALUE) {
      // Asking sooner gets the server's cached negative answer; later delays a scale-up from zero.
      return clampTtl(soaTtl);
    }
    // No SOA: back off, but at most NEGATIVE_BACKOFF_STEPS doublings of ttlFloor, so the first pod
    // of a Service scaled up from zero is found within seconds, not ttlCap.
    return backoffNanos(Math.min(negativeStreak, NEGATIVE_BACKOFF_STEPS));
  }

  private static final int NEGATIVE_BACKOFF_STEPS = 4; // 1, 2, 4, 8 x ttlFloor

  /* Exponential backoff from ttlFloor, doubling, capped at ttlCap, with +-20 % jitter. */
  private long backoffNanos(int failures) {
    double base = options.ttlFloor().toNanos() * Math.pow(2, Math.min(failures - 1, 30));
    double capped = Math.min(base, (double) options.ttlCap().toNanos());
    return (long) (capped * (0.8 + 0.4 * jitter.getAsDouble()));
  }
}
