package io.github.kubegrpclb.sharding;

import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.core.internal.ShardTelemetry;
import io.github.kubegrpclb.core.internal.Snapshots;
import io.github.kubegrpclb.core.internal.Telemetry;
import io.grpc.ConnectivityState;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * What a {@link ShardPool} shows the outside: its OpenTelemetry instruments (shards by state, pods
 * reached, recycles, re-dials) and its snapshot for {@code LbDebug}. The pool reports events from
 * its SynchronizationContext; gauges and snapshots read the pool's shards, their channels' states
 * and the counters here from any thread.
 */
final class ShardObserver {
  private static final List<String> REASONS =
      List.of(
          ShardTelemetry.CONNECTION_CLOSED, ShardTelemetry.MAX_AGE, ShardTelemetry.DUPLICATE_POD);

  private final String target;
  private final boolean knowsPods;
  private final LongSupplier ticker;
  private final Supplier<List<Shard>> shards;
  private final Supplier<ConnectivityState> state;
  private final ShardTelemetry telemetry;
  private final Snapshots.Registration registration;
  private final Map<String, AtomicLong> recycles = new HashMap<>();
  private final AtomicLong abandoned = new AtomicLong();
  private final AtomicLong redials = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();

  /**
   * Starts recording the pool to {@code target} whose slot shards {@code shards} returns and whose
   * aggregate state {@code state} returns; {@code knowsPods} when shards learn their pod's name.
   */
  ShardObserver(
      String target,
      LbTelemetry settings,
      boolean knowsPods,
      LongSupplier ticker,
      Supplier<List<Shard>> shards,
      Supplier<ConnectivityState> state) {
    this.target = target;
    this.knowsPods = knowsPods;
    this.ticker = ticker;
    this.shards = shards;
    this.state = state;
    for (String reason : REASONS) {
      recycles.put(reason, new AtomicLong()); // filled once: read-only afterwards
    }
    this.telemetry = Telemetry.of(settings).sharded(target, this::shardsByState, this::podsReached);
    this.registration = Snapshots.register(target, this::describe);
  }

  /** A shard got a new connection for {@code reason}, one of ShardTelemetry's reasons. */
  void recycled(String reason) {
    recycles(reason).incrementAndGet();
    telemetry.recycled(reason);
  }

  private AtomicLong recycles(String reason) {
    AtomicLong count = recycles.get(reason);
    if (count == null) {
      throw new IllegalArgumentException(
          "recycle reason: " + reason + " (expected: " + REASONS + ")");
    }
    return count;
  }

  /** A replacement for {@code reason} was not READY in time. */
  void replacementAbandoned(String reason) {
    abandoned.incrementAndGet();
    telemetry.replacementAbandoned(reason);
  }

  /** A shard reached a duplicate pod: re-dialed, or {@code wasRefused} by the re-dial budget. */
  void redial(boolean wasRefused) {
    (wasRefused ? refused : redials).incrementAndGet();
    telemetry.redial(wasRefused);
  }

  void shutdown() {
    registration.close();
    telemetry.close();
  }

  /** The slot shards by their channel's state; any thread. */
  Map<ConnectivityState, Integer> shardsByState() {
    Map<ConnectivityState, Integer> counts = new EnumMap<>(ConnectivityState.class);
    for (ConnectivityState s : ConnectivityState.values()) {
      if (s != ConnectivityState.SHUTDOWN) {
        counts.put(s, 0); // a series per state, 0 included, so that it drops rather than vanishes
      }
    }
    for (Shard shard : slotShards()) {
      counts.merge(shard.channel.getState(false), 1, Integer::sum);
    }
    return counts;
  }

  /** Distinct pods the slot shards last named, or -1 without a pod identity header; any thread. */
  int podsReached() {
    if (!knowsPods) {
      return -1;
    }
    Set<String> pods = new HashSet<>();
    for (Shard shard : slotShards()) {
      String pod = shard.identity();
      if (pod != null) {
        pods.add(pod);
      }
    }
    return pods.size();
  }

  /* The shards in the slots; none before the pool has dialed them. */
  private List<Shard> slotShards() {
    List<Shard> current = new ArrayList<>(shards.get());
    current.removeIf(Objects::isNull);
    return current;
  }

  /** The snapshot: a header line, then one line per shard; any thread. */
  String describe() {
    List<Shard> current = slotShards();
    StringBuilder out =
        new StringBuilder("sharded channel for ")
            .append(target)
            .append(": ")
            .append(state.get())
            .append(", ")
            .append(current.size())
            .append(" shards (");
    boolean first = true;
    for (Map.Entry<ConnectivityState, Integer> entry : shardsByState().entrySet()) {
      if (entry.getValue() > 0) {
        out.append(first ? "" : ", ").append(entry.getValue()).append(' ').append(entry.getKey());
        first = false;
      }
    }
    out.append(')');
    int pods = podsReached();
    if (pods >= 0) {
      out.append(", ").append(pods).append(pods == 1 ? " pod reached" : " pods reached");
    }
    out.append("; recycles:");
    for (String reason : REASONS) {
      out.append(' ').append(reason).append('=').append(recycles(reason).get());
    }
    out.append("; re-dials: ")
        .append(redials.get())
        .append(" (")
        .append(refused.get())
        .append(" refused); replacements abandoned: ")
        .append(abandoned.get());
    long now = ticker.getAsLong();
    for (Shard shard : current) {
      String pod = shard.identity();
      out.append("\n  shard ")
          .append(shard.slot)
          .append(' ')
          .append(shard.channel.getState(false))
          .append(" pod=")
          .append(pod == null ? "-" : pod)
          .append(" age=")
          .append(Snapshots.seconds(now - shard.dialedNanos))
          .append(" in-flight=")
          .append(shard.openCalls());
      long readySince = shard.readySinceNanos;
      if (readySince != Shard.NOT_READY) {
        out.append(" ready-for=").append(Snapshots.seconds(now - readySince));
      }
    }
    return out.toString();
  }
}
