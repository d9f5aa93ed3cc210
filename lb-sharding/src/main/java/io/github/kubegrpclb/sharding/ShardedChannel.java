package io.github.kubegrpclb.sharding;

import io.github.kubegrpclb.core.LbTelemetry;
import io.grpc.CallOptions;
import io.grpc.ChannelCredentials;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import javax.annotation.Nullable;

/**
 * A {@link ManagedChannel} over N separate connections (shards) to one target, typically a
 * ClusterIP Service: kube-proxy picks a pod per connection, so N connections give N routing
 * decisions where one channel gives one. Calls go round robin over the READY shards; a call (and so
 * a stream) stays on the shard it started on.
 *
 * <p>Every shard stays connected: one that goes IDLE (the server's GOAWAY at its {@code
 * maxConnectionAge}, a pod shutting down, a lost connection, the shard's own idle timeout) is asked
 * to reconnect at once, which is also a fresh routing decision. Rebalancing: kube-proxy's choice is
 * random, so shards can land on the same pod, and pods added later would never get a connection.
 * Each shard therefore has a maximum age (the rebalancing period, with jitter); when it expires a
 * replacement connects first, new calls move to it once it is READY, and the old connection closes
 * only after the calls created on it have finished. Optionally, when servers name themselves in a
 * response header ({@link Builder#podIdentityHeader}), a shard that reaches a pod another shard
 * already covers is re-dialed, at most as many times per period as there are shards.
 *
 * <p>The channel contract is grpc-java's: {@link #getState} aggregates the shards as round_robin
 * does (READY if any is), {@link #notifyWhenStateChanged} callbacks run on the {@link
 * Builder#executor}, {@link #enterIdle} idles every shard until the next call, {@link
 * #resetConnectBackoff} reaches every shard, and {@link #shutdown} covers every connection and
 * timer.
 *
 * <p>Observable: OpenTelemetry metrics (shards by state, recycles by reason, re-dials, pods
 * reached) through {@link Builder#telemetry}, and a snapshot of every shard in {@code
 * LbDebug.snapshot(target)}.
 *
 * <p>Thread-safe: shards live in an atomic array; recycling runs on one daemon timer thread shared
 * by every ShardedChannel in the JVM.
 */
public final class ShardedChannel extends ManagedChannel {
  private final String target;
  private final ShardPool pool;

  private ShardedChannel(String target, ShardPool pool) {
    this.target = target;
    this.pool = pool;
  }

  /** Starts a builder for {@code target}: {@code my-svc.my-ns.svc.cluster.local:50051} or an IP. */
  public static Builder newBuilder(String target) {
    return new Builder(target);
  }

  /** Number of shards (connections). */
  public int connections() {
    return pool.size();
  }

  /** The pod each shard last reported (null where unknown), in shard order. */
  public List<String> shardIdentities() {
    return pool.shards().stream().map(Shard::identity).toList();
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions callOptions) {
    return pool.newCall(method, callOptions);
  }

  @Override
  public String authority() {
    return pool.authority();
  }

  /**
   * Aggregated over the shards as round_robin aggregates subchannels: READY if any shard is READY;
   * TRANSIENT_FAILURE once every shard has failed, until one is READY again; CONNECTING otherwise;
   * IDLE after {@link #enterIdle} until the next call; SHUTDOWN after shutdown. With {@code
   * requestConnection}, an idle channel starts connecting every shard.
   */
  @Override
  public ConnectivityState getState(boolean requestConnection) {
    return pool.getState(requestConnection);
  }

  /**
   * Runs {@code callback} once, on the {@link Builder#executor}, when the state is no longer {@code
   * source} (at once if it already is not).
   */
  @Override
  public void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
    pool.notifyWhenStateChanged(
        Objects.requireNonNull(source, "source"), Objects.requireNonNull(callback, "callback"));
  }

  /** Resets the reconnect backoff of every shard. */
  @Override
  public void resetConnectBackoff() {
    pool.resetConnectBackoff();
  }

  /**
   * Moves every shard to IDLE (calls in flight finish); shards are not reconnected until the next
   * call or {@code getState(true)}, which reconnect them all.
   */
  @Override
  public void enterIdle() {
    pool.enterIdle();
  }

  @Override
  public ManagedChannel shutdown() {
    pool.shutdown(false);
    return this;
  }

  @Override
  public ManagedChannel shutdownNow() {
    pool.shutdown(true);
    return this;
  }

  @Override
  public boolean isShutdown() {
    return pool.isShutdown();
  }

  @Override
  public boolean isTerminated() {
    return pool.isTerminated();
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    return pool.awaitTermination(timeout, unit);
  }

  @Override
  public String toString() {
    return "ShardedChannel(" + target + ", " + pool.size() + " connections)";
  }

  /** The pool, for tests in this package. */
  ShardPool pool() {
    return pool;
  }

  /** Default scheduler and callback executor: daemon threads shared by every ShardedChannel. */
  private static final class Shared {
    static final ScheduledExecutorService SCHEDULER = newScheduler();
    static final ExecutorService CALLBACKS =
        Executors.newCachedThreadPool(daemon("kube-grpc-lb-sharded-channel-callback"));

    /* Recycling is rare, short work: one thread; cancelled timers leave its queue at once. */
    private static ScheduledExecutorService newScheduler() {
      ScheduledThreadPoolExecutor scheduler =
          new ScheduledThreadPoolExecutor(1, daemon("kube-grpc-lb-sharded-channel"));
      scheduler.setRemoveOnCancelPolicy(true);
      return scheduler;
    }

    private static ThreadFactory daemon(String name) {
      return r -> {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
      };
    }
  }

  /** Builds a {@link ShardedChannel}; not thread-safe. */
  public static final class Builder {
    private final String target;
    private int connections = 8;
    private ChannelCredentials credentials = InsecureChannelCredentials.create();
    private Consumer<ManagedChannelBuilder<?>> customizer = b -> {};
    private Duration maxAge = Duration.ofMinutes(5);
    private double jitter = 0.2;
    // Unset (null) until configured: build() picks the defaults.
    @Nullable private String podIdentityHeader;
    @Nullable private Executor executor;
    @Nullable private ScheduledExecutorService scheduler;
    @Nullable private LongSupplier ticker;
    @Nullable private DoubleSupplier random;
    @Nullable private Supplier<ManagedChannel> dialer;
    private LbTelemetry telemetry = LbTelemetry.global();

    private Builder(String target) {
      this.target = Objects.requireNonNull(target, "target");
    }

    /**
     * Number of connections, 1 to 256; default 8. With P pods behind the Service, N random
     * connections leave a given pod without one with probability (1 - 1/P)^N: 3.9 % for P = 3, N =
     * 8.
     */
    public Builder connections(int connections) {
      if (connections < 1 || connections > 256) {
        throw new IllegalArgumentException("connections: " + connections + " (expected: 1..256)");
      }
      this.connections = connections;
      return this;
    }

    /** Channel credentials of every shard; default plaintext. */
    public Builder credentials(ChannelCredentials credentials) {
      this.credentials = Objects.requireNonNull(credentials, "credentials");
      return this;
    }

    /** Applied to each shard's builder: interceptors, keepalive, message sizes, ... */
    public Builder channelBuilderCustomizer(Consumer<ManagedChannelBuilder<?>> customizer) {
      this.customizer = Objects.requireNonNull(customizer, "customizer");
      return this;
    }

    /**
     * The rebalancing period: each connection is replaced (make before break) after this age, +-20
     * % jitter; default 5 minutes; {@link Duration#ZERO} turns recycling off.
     */
    public Builder maxConnectionAge(Duration maxAge) {
      if (maxAge == null || maxAge.isNegative()) {
        throw new IllegalArgumentException("maxConnectionAge: " + maxAge + " (expected: >= 0)");
      }
      this.maxAge = maxAge;
      return this;
    }

    /**
     * Response header in which servers put their pod name (e.g. from the downward API); when set, a
     * shard that reaches a pod another shard already covers is re-dialed.
     */
    public Builder podIdentityHeader(String header) {
      Objects.requireNonNull(header, "header");
      try {
        Metadata.Key.of(header, Metadata.ASCII_STRING_MARSHALLER);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "podIdentityHeader: '"
                + header
                + "' is not a usable header name ("
                + e.getMessage()
                + "); expected: lower-case letters, digits, '-', '_', '.', not ending in '-bin'"
                + " (a text header), e.g. 'x-pod-name'",
            e);
      }
      this.podIdentityHeader = header;
      return this;
    }

    /**
     * Executor for {@link #notifyWhenStateChanged} callbacks, also set on every shard's builder (so
     * calls' callbacks run there too, unless the customizer sets another). Default: shards use
     * grpc-java's default executor, state callbacks a shared pool of daemon threads. The caller
     * owns it and shuts it down after the channel.
     */
    public Builder executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Where the channel records its metrics (shards by state, recycles, re-dials, pods reached;
     * listed in docs/operating.md); default {@link LbTelemetry#global()}, {@link
     * LbTelemetry#disabled()} records nothing. Its snapshot is in {@code LbDebug.snapshot(target)}
     * either way.
     */
    public Builder telemetry(LbTelemetry telemetry) {
      this.telemetry = Objects.requireNonNull(telemetry, "telemetry");
      return this;
    }

    /** Timer for aging, replacement and retirement (tests: a fake clock's scheduler). */
    Builder scheduler(ScheduledExecutorService scheduler) {
      this.scheduler = scheduler;
      return this;
    }

    /** Nano-time source of the re-dial period (tests: a fake clock). */
    Builder ticker(LongSupplier ticker) {
      this.ticker = ticker;
      return this;
    }

    /** Uniform [0, 1) source of the aging jitter. */
    Builder random(DoubleSupplier random) {
      this.random = random;
      return this;
    }

    /** Makes each shard's channel (tests: fake channels); default: the target, as configured. */
    Builder dialer(Supplier<ManagedChannel> dialer) {
      this.dialer = dialer;
      return this;
    }

    /**
     * Dials every shard and returns the channel.
     *
     * @throws IllegalArgumentException when a shard cannot be made: the target does not parse or
     *     names no known scheme, or the customizer throws; the message names the input. Nothing is
     *     left behind then: the shards dialed so far are shut down.
     */
    public ShardedChannel build() {
      Supplier<ManagedChannel> dial = dialer != null ? dialer : dialerOfTarget();
      ShardPool pool =
          ShardPool.start(
              target,
              telemetry,
              connections,
              dial,
              podIdentityHeader,
              maxAge,
              jitter,
              scheduler != null ? scheduler : Shared.SCHEDULER,
              ticker != null ? ticker : System::nanoTime,
              random != null ? random : () -> ThreadLocalRandom.current().nextDouble(),
              executor != null ? executor : Shared.CALLBACKS);
      return new ShardedChannel(target, pool);
    }

    /* Captures the settings now: a later change to this builder affects no built channel. */
    private Supplier<ManagedChannel> dialerOfTarget() {
      String target = this.target;
      ChannelCredentials credentials = this.credentials;
      Executor executor = this.executor;
      Consumer<ManagedChannelBuilder<?>> customizer = this.customizer;
      return () -> {
        ManagedChannelBuilder<?> builder;
        try {
          builder = Grpc.newChannelBuilder(target, credentials);
        } catch (IllegalArgumentException e) {
          throw badTarget(target, e);
        }
        if (executor != null) {
          builder.executor(executor);
        }
        try {
          customizer.accept(builder);
        } catch (RuntimeException e) {
          throw new IllegalArgumentException(
              "channelBuilderCustomizer threw "
                  + e
                  + " on the builder for "
                  + target
                  + " (expected: a customizer that configures the builder and returns)",
              e);
        }
        try {
          return builder.build();
        } catch (IllegalArgumentException e) {
          throw badTarget(target, e);
        }
      };
    }

    private static IllegalArgumentException badTarget(String target, Exception cause) {
      return new IllegalArgumentException(
          "target: '"
              + target
              + "' cannot be dialed ("
              + cause.getMessage()
              + "); expected: host:port (e.g. my-svc.my-ns.svc.cluster.local:50051), ip:port,"
              + " or a URI whose scheme has a registered name resolver",
          cause);
    }
  }
}
