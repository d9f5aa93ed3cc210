package io.github.kubegrpclb.sharding;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptors;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;

/**
 * A {@link ManagedChannel} over N separate connections (shards) to one target, typically a
 * ClusterIP Service: kube-proxy picks a pod per connection, so N connections give N routing
 * decisions where one channel gives one. Calls go round robin over the READY shards; a call (and so
 * a stream) stays on the shard it started on.
 *
 * <p>Rebalancing: kube-proxy's choice is random, so shards can land on the same pod, and pods added
 * later would never get a connection. Each shard therefore has a maximum age (the rebalancing
 * period, with jitter); when it expires a replacement connects first, new calls move to it once it
 * is READY, and the old connection closes only after its calls finish. Optionally, when servers
 * name themselves in a response header ({@link Builder#podIdentityHeader}), a shard that reaches a
 * pod another shard already covers is re-dialed at once, so the pool spreads over distinct pods.
 *
 * <p>Thread-safe: shards live in an atomic array; recycling runs on one daemon timer thread shared
 * by every ShardedChannel in the JVM.
 */
public final class ShardedChannel extends ManagedChannel {
  private final String target;
  private final ChannelCredentials credentials;
  private final Consumer<ManagedChannelBuilder<?>> customizer;
  private final Duration maxAge;
  private final double jitter;
  private final String podIdentityHeader;
  private final ScheduledExecutorService scheduler;
  private final DoubleSupplier random;
  private final AtomicReferenceArray<Shard> shards;
  private final Set<ManagedChannel> allChannels = ConcurrentHashMap.newKeySet();
  private final AtomicInteger next = new AtomicInteger();
  private final ShardRecycler recycler;
  private volatile boolean shutdown;

  private ShardedChannel(Builder b) {
    this.target = b.target;
    this.credentials = b.credentials;
    this.customizer = b.customizer;
    this.maxAge = b.maxAge;
    this.jitter = b.jitter;
    this.podIdentityHeader = b.podIdentityHeader;
    this.scheduler = b.scheduler != null ? b.scheduler : SharedScheduler.INSTANCE;
    this.random = b.random != null ? b.random : () -> ThreadLocalRandom.current().nextDouble();
    this.shards = new AtomicReferenceArray<>(b.connections);
    this.recycler = new ShardRecycler(this);
    for (int i = 0; i < b.connections; i++) {
      Shard shard = newShard();
      shards.set(i, shard);
      shard.channel.getState(true); // connect now, not on the first call
      recycler.scheduleAging(i, shard);
    }
  }

  /** Starts a builder for {@code target}: {@code my-svc.my-ns.svc.cluster.local:50051} or an IP. */
  public static Builder newBuilder(String target) {
    return new Builder(target);
  }

  /** Number of shards (connections). */
  public int connections() {
    return shards.length();
  }

  /** The pod each shard last reported (null where unknown), in shard order. */
  public List<String> shardIdentities() {
    List<String> identities = new ArrayList<>();
    for (int i = 0; i < shards.length(); i++) {
      identities.add(shards.get(i).identity);
    }
    return identities;
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions callOptions) {
    return pick().calls.newCall(method, callOptions);
  }

  /* Atomic round robin, skipping shards that are not READY; if none is, the next in turn. */
  private Shard pick() {
    int n = shards.length();
    int start = Math.floorMod(next.getAndIncrement(), n);
    for (int k = 0; k < n; k++) {
      Shard shard = shards.get((start + k) % n);
      if (shard.channel.getState(false) == ConnectivityState.READY) {
        return shard;
      }
    }
    Shard fallback = shards.get(start);
    fallback.channel.getState(true);
    return fallback;
  }

  @Override
  public String authority() {
    return shards.get(0).channel.authority();
  }

  @Override
  public ManagedChannel shutdown() {
    shutdown = true;
    allChannels.forEach(ManagedChannel::shutdown);
    return this;
  }

  @Override
  public ManagedChannel shutdownNow() {
    shutdown = true;
    allChannels.forEach(ManagedChannel::shutdownNow);
    return this;
  }

  @Override
  public boolean isShutdown() {
    return shutdown;
  }

  @Override
  public boolean isTerminated() {
    return shutdown && allChannels.stream().allMatch(ManagedChannel::isTerminated);
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    for (ManagedChannel channel : allChannels) {
      long left = deadline - System.nanoTime();
      if (left <= 0 || !channel.awaitTermination(left, TimeUnit.NANOSECONDS)) {
        return false;
      }
    }
    return true;
  }

  @Override
  public ConnectivityState getState(boolean requestConnection) {
    if (shutdown) {
      return ConnectivityState.SHUTDOWN;
    }
    ConnectivityState best = ConnectivityState.SHUTDOWN;
    for (int i = 0; i < shards.length(); i++) {
      ConnectivityState state = shards.get(i).channel.getState(requestConnection);
      if (rank(state) < rank(best)) {
        best = state;
      }
    }
    return best;
  }

  private static int rank(ConnectivityState state) {
    switch (state) {
      case READY:
        return 0;
      case CONNECTING:
        return 1;
      case IDLE:
        return 2;
      case TRANSIENT_FAILURE:
        return 3;
      default:
        return 4;
    }
  }

  @Override
  public String toString() {
    return "ShardedChannel(" + target + ", " + shards.length() + " connections)";
  }

  // ---- used by ShardRecycler ----

  Shard newShard() {
    ManagedChannelBuilder<?> builder = Grpc.newChannelBuilder(target, credentials);
    customizer.accept(builder);
    ManagedChannel channel = builder.build();
    allChannels.add(channel);
    Shard shard = new Shard(channel);
    Channel calls =
        podIdentityHeader == null
            ? channel
            : ClientInterceptors.intercept(
                channel,
                new PodIdentityInterceptor(podIdentityHeader, id -> onIdentity(shard, id)));
    shard.calls = calls;
    return shard;
  }

  private void onIdentity(Shard shard, String identity) {
    if (identity.equals(shard.identity)) {
      return;
    }
    shard.identity = identity;
    recycler.onIdentityLearned(shard);
  }

  AtomicReferenceArray<Shard> shards() {
    return shards;
  }

  ScheduledExecutorService scheduler() {
    return scheduler;
  }

  boolean closing() {
    return shutdown;
  }

  long agingDelayNanos() {
    double factor = 1 + jitter * (2 * random.getAsDouble() - 1);
    return (long) (maxAge.toNanos() * factor);
  }

  boolean agingEnabled() {
    return !maxAge.isZero();
  }

  boolean distinctPods() {
    return podIdentityHeader != null;
  }

  /** Closes a replaced shard: calls in flight finish, no new call reaches it. */
  void retire(ManagedChannel channel) {
    channel.shutdown();
    allChannels.removeIf(ManagedChannel::isTerminated);
  }

  /** Drops a replacement that never became READY. */
  void discard(ManagedChannel channel) {
    channel.shutdownNow();
    allChannels.remove(channel);
  }

  /** One daemon timer thread for every ShardedChannel in the JVM: recycling is rare, short work. */
  private static final class SharedScheduler {
    static final ScheduledExecutorService INSTANCE =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "kube-grpc-lb-sharded-channel");
              t.setDaemon(true);
              return t;
            });
  }

  /** One connection: its channel, the call path (with the identity interceptor) and its pod. */
  static final class Shard {
    final ManagedChannel channel;
    volatile Channel calls;
    volatile String identity;

    Shard(ManagedChannel channel) {
      this.channel = channel;
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
    private String podIdentityHeader;
    private ScheduledExecutorService scheduler;
    private DoubleSupplier random;

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
      this.podIdentityHeader = Objects.requireNonNull(header, "header");
      return this;
    }

    Builder scheduler(ScheduledExecutorService scheduler) {
      this.scheduler = scheduler;
      return this;
    }

    Builder random(DoubleSupplier random) {
      this.random = random;
      return this;
    }

    public ShardedChannel build() {
      return new ShardedChannel(this);
    }
  }
}
