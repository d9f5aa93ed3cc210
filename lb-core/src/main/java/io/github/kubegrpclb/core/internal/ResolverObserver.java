package io.github.kubegrpclb.core.internal;

import io.github.kubegrpclb.core.EndpointAttributes;
import io.github.kubegrpclb.core.EndpointCondition;
import io.github.kubegrpclb.core.LbTelemetry;
import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import javax.annotation.Nullable;

/**
 * What a name resolver shows the outside: its OpenTelemetry instruments, its snapshot for {@code
 * LbDebug}, and the telemetry option it hands to the channel's balancer. The resolver calls it in
 * its SynchronizationContext, except {@link #eventArrived}, which watch and DNS threads call; the
 * snapshot and gauges read volatile fields from any thread.
 */
public final class ResolverObserver {
  private static final long NONE = Long.MIN_VALUE;

  /** Per resolution result of this library's resolvers: the channel target as written. */
  public static final Attributes.Key<String> TARGET_TEXT =
      Attributes.Key.create("io.github.kubegrpclb.internal.target");

  private final LbTelemetry settings;
  private final String target;
  private final String kind;
  private final LongSupplier nanoClock;
  private final AtomicLong firstEventNanos = new AtomicLong(NONE);
  private BooleanSupplier upToDate = () -> false;
  private ResolverTelemetry telemetry = ResolverTelemetry.NOOP;
  @Nullable private Snapshots.Registration registration; // null until start()
  @Nullable private volatile List<EquivalentAddressGroup> published; // null until the first one
  private volatile long publishedNanos = NONE;
  private volatile long lastSuccessNanos = NONE;
  private volatile long updates;
  @Nullable private volatile String lastError; // null until the first failure
  @Nullable private volatile String lastErrorKind;
  private volatile long lastErrorNanos = NONE;
  private volatile long errors;

  /**
   * @param settings the resolver's telemetry option; null means {@link LbTelemetry#global()}
   * @param target the channel target, as the application wrote it
   * @param kind the resolver: {@code kubernetes} or {@code headless}
   * @param nanoClock monotonic nanoseconds
   */
  public ResolverObserver(
      @Nullable LbTelemetry settings, String target, String kind, LongSupplier nanoClock) {
    this.settings = settings == null ? LbTelemetry.global() : settings;
    this.target = target;
    this.kind = kind;
    this.nanoClock = nanoClock;
  }

  /**
   * Starts recording. {@code upToDate} says, from any thread, whether the resolver's view is
   * current right now (a watch that works); while it is not, the age of the last good resolution
   * grows.
   */
  public void start(BooleanSupplier upToDate) {
    this.upToDate = upToDate;
    this.telemetry = Telemetry.of(settings).resolver(target, kind, this::lastSuccessAgeNanos);
    this.registration = Snapshots.register(target, this::describe);
  }

  public void shutdown() {
    telemetry.close();
    if (registration != null) {
      registration.close();
    }
  }

  /** Sets the telemetry option for the channel's balancer on a resolution result's attributes. */
  public Attributes.Builder addTo(Attributes.Builder attributes) {
    return attributes.set(LbTelemetry.ATTRIBUTE, settings);
  }

  /**
   * A watch event or DNS answer arrived (any thread): the next {@link #published} measures its lag
   * from the first such event since the last one.
   */
  public void eventArrived() {
    firstEventNanos.compareAndSet(NONE, nanoClock.getAsLong());
  }

  /** The resolver's view was confirmed current (a DNS answer, a watch event), changed or not. */
  public void succeeded() {
    lastSuccessNanos = nanoClock.getAsLong();
  }

  /** The resolver published {@code groups} to the channel. */
  @SuppressWarnings("NonAtomicVolatileUpdate") // one writer: the SynchronizationContext
  public void published(List<EquivalentAddressGroup> groups) {
    long now = nanoClock.getAsLong();
    long event = firstEventNanos.getAndSet(NONE);
    published = groups;
    publishedNanos = now;
    lastSuccessNanos = now;
    updates++;
    telemetry.published(groups.size(), event == NONE ? -1 : Math.max(0, now - event));
  }

  /** The event that {@link #eventArrived} marked led to no update (nothing changed). */
  public void unchanged() {
    firstEventNanos.set(NONE);
    succeeded();
  }

  /** A resolution or watch failure of {@code errorKind} (see {@link ResolverTelemetry}). */
  @SuppressWarnings("NonAtomicVolatileUpdate") // one writer: the SynchronizationContext
  public void failed(String errorKind, String message) {
    firstEventNanos.set(NONE);
    lastError = message;
    lastErrorKind = errorKind;
    lastErrorNanos = nanoClock.getAsLong();
    errors++;
    telemetry.error(errorKind);
  }

  /** Counts a non-failure event of {@code kind} (e.g. DNS's TCP fallback) without logging it. */
  public void noted(String eventKind) {
    telemetry.error(eventKind);
  }

  private long lastSuccessAgeNanos() {
    long last = lastSuccessNanos;
    if (last == NONE) {
      return -1;
    }
    return upToDate.getAsBoolean() ? 0 : Math.max(0, nanoClock.getAsLong() - last);
  }

  /** The snapshot: a header line, the last error if any, then one line per endpoint published. */
  public String describe() {
    long now = nanoClock.getAsLong();
    List<EquivalentAddressGroup> groups = published;
    StringBuilder out =
        new StringBuilder(kind).append(" resolver for ").append(target).append(": ");
    if (groups == null) {
      out.append("nothing published yet");
    } else {
      out.append(groups.size())
          .append(" endpoints, published ")
          .append(ago(now, publishedNanos))
          .append(" (")
          .append(updates)
          .append(updates == 1 ? " update)" : " updates)");
    }
    long age = lastSuccessAgeNanos();
    if (age >= 0) {
      out.append(
          age == 0 ? ", up to date" : ", last good resolution " + Snapshots.seconds(age) + " ago");
    }
    if (lastError != null) {
      out.append("\n  last error (")
          .append(lastErrorKind)
          .append(", ")
          .append(errors)
          .append(" so far) ")
          .append(ago(now, lastErrorNanos))
          .append(": ")
          .append(lastError);
    }
    if (groups != null) {
      for (EquivalentAddressGroup group : groups) {
        out.append("\n  ").append(address(group));
        EndpointCondition condition = EndpointAttributes.conditionOf(group);
        out.append(condition == EndpointCondition.READY ? " ready" : " terminating_serving");
        String zone = group.getAttributes().get(EndpointAttributes.ZONE);
        out.append(" zone=").append(zone == null ? "-" : zone);
      }
    }
    return out.toString();
  }

  private static String address(EquivalentAddressGroup group) {
    return Snapshots.addressText(group.getAddresses());
  }

  private static String ago(long now, long then) {
    return then == NONE ? "never" : Snapshots.seconds(Math.max(0, now - then)) + " ago";
  }
}
