package io.github.kubegrpclb.core.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The live balancers, resolvers and sharded channels of this JVM, each able to describe itself:
 * what {@code LbDebug} prints. Components register when they start and close the registration when
 * they shut down. Thread-safe; a description is rendered on the caller's thread from state the
 * component publishes safely.
 */
public final class Snapshots {
  private static final AtomicLong NEXT_ID = new AtomicLong();
  private static final Map<Long, Entry> LIVE = new ConcurrentSkipListMap<>();

  private Snapshots() {}

  /**
   * Registers a component of the channel to {@code target}; {@code describe} returns its current
   * view as a multi-line string.
   */
  public static Registration register(String target, Supplier<String> describe) {
    long id = NEXT_ID.incrementAndGet();
    LIVE.put(id, new Entry(target, describe));
    return () -> LIVE.remove(id);
  }

  /** The descriptions of the components whose target is {@code target}, or of all when null. */
  public static List<String> describe(String target) {
    List<String> out = new ArrayList<>();
    for (Entry entry : LIVE.values()) {
      if (target == null || entry.target.equals(target)) {
        out.add(entry.describe.get());
      }
    }
    return out;
  }

  /** Ends one registration; idempotent. */
  public interface Registration extends AutoCloseable {
    @Override
    void close();
  }

  private static final class Entry {
    final String target;
    final Supplier<String> describe;

    Entry(String target, Supplier<String> describe) {
      this.target = target;
      this.describe = describe;
    }
  }
}
