package io.github.kubegrpclb.core;

import io.grpc.Attributes;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.OpenTelemetry;
import javax.annotation.Nullable;

/**
 * Where this library's balancers, resolvers and sharded channels record their OpenTelemetry metrics
 * (every instrument is listed in docs/operating.md), and how many endpoints get series of their
 * own. The default, {@link #global()}, records to {@code GlobalOpenTelemetry} when the application
 * has set one; pass another instance through a resolver option, for example {@code
 * HeadlessDnsOptions.builder().telemetry(LbTelemetry.create(openTelemetry))}, or the {@code
 * ShardedChannel} builder's {@code telemetry} option.
 *
 * <p>The OpenTelemetry API is an optional dependency: without {@code
 * io.opentelemetry:opentelemetry-api} on the classpath nothing is recorded and nothing fails. Only
 * {@link #create} and {@link #openTelemetry()} need it. Immutable and thread-safe.
 */
public final class LbTelemetry {
  /**
   * Per resolution result: the telemetry that balancers of the channel record to. This library's
   * resolvers set it from their options; balancers fall back to {@link #global()} without it.
   */
  public static final Attributes.Key<LbTelemetry> ATTRIBUTE =
      Attributes.Key.create("io.github.kubegrpclb.telemetry");

  /**
   * Distinct endpoints per target with series of their own, unless {@link #withEndpointLimit} says.
   */
  public static final int DEFAULT_ENDPOINT_LIMIT = 100;

  private static final LbTelemetry GLOBAL = new LbTelemetry(null, true, DEFAULT_ENDPOINT_LIMIT);
  private static final LbTelemetry DISABLED = new LbTelemetry(null, false, 0);

  // An OpenTelemetry, or null for the global one (GLOBAL, DISABLED and their copies); Object so
  // this class loads without the OpenTelemetry API.
  @Nullable private final Object openTelemetry;
  private final boolean enabled;
  private final int endpointLimit;

  private LbTelemetry(@Nullable Object openTelemetry, boolean enabled, int endpointLimit) {
    this.openTelemetry = openTelemetry;
    this.enabled = enabled;
    this.endpointLimit = endpointLimit;
  }

  /**
   * Records to {@code GlobalOpenTelemetry} as it is when a channel starts (set it before creating
   * channels); records nothing when the OpenTelemetry API is absent or no global instance is set.
   */
  public static LbTelemetry global() {
    return GLOBAL;
  }

  /** Records nothing. */
  public static LbTelemetry disabled() {
    return DISABLED;
  }

  /** Records to {@code openTelemetry}'s meter provider. */
  public static LbTelemetry create(OpenTelemetry openTelemetry) {
    if (openTelemetry == null) {
      throw new NullPointerException("openTelemetry (expected: an OpenTelemetry instance)");
    }
    return new LbTelemetry(openTelemetry, true, DEFAULT_ENDPOINT_LIMIT);
  }

  /**
   * Returns a copy that gives at most {@code limit} distinct endpoints per target and policy series
   * of their own (attributes {@code endpoint} and {@code zone}) over the meter provider's life,
   * counting every endpoint that ever had them, not only those alive: series outlive their pods. An
   * endpoint that had its own series keeps them; RPCs of the endpoints beyond the limit are counted
   * under {@code endpoint="_other"}. 0 switches per-endpoint series off, for Services with
   * thousands of pods.
   *
   * @throws IllegalArgumentException if {@code limit} is negative
   */
  public LbTelemetry withEndpointLimit(int limit) {
    if (limit < 0) {
      throw new IllegalArgumentException(
          "endpointLimit: " + limit + " (expected: >= 0; 0 switches per-endpoint series off)");
    }
    return new LbTelemetry(openTelemetry, enabled, limit);
  }

  /** Whether this records anything (false for {@link #disabled()}). */
  public boolean isEnabled() {
    return enabled;
  }

  /** Endpoints per balancer with series of their own. */
  public int endpointLimit() {
    return endpointLimit;
  }

  /**
   * The instance this records to: the one given to {@link #create}, or the global one ({@code
   * GlobalOpenTelemetry.getOrNoop()}, which does not claim the global slot).
   *
   * @throws IllegalStateException if this is {@link #disabled()}
   */
  public OpenTelemetry openTelemetry() {
    if (!enabled) {
      throw new IllegalStateException("LbTelemetry.disabled() records to no OpenTelemetry");
    }
    return openTelemetry != null ? (OpenTelemetry) openTelemetry : GlobalOpenTelemetry.getOrNoop();
  }

  @Override
  public String toString() {
    return !enabled
        ? "LbTelemetry(disabled)"
        : "LbTelemetry("
            + (openTelemetry == null ? "global" : openTelemetry.getClass().getSimpleName())
            + ", endpointLimit="
            + endpointLimit
            + ")";
  }
}
