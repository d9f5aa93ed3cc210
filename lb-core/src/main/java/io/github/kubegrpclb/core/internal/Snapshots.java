package io.github.kubegrpclb.core.internal;

import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import javax.annotation.Nullable;

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

  /** A duration in a snapshot line: seconds with one decimal, e.g. {@code 12.5s}. */
  public static String seconds(long nanos) {
    return String.format(Locale.ROOT, "%.1fs", nanos / 1e9);
  }

  /**
   * An address group's addresses as debug text: {@code 10.0.0.1:8080} for one, {@code
   * [10.0.0.1:8080, 10.0.0.2:8080]} for several (without the leading slash of an unresolved host
   * name).
   */
  public static String addressText(List<? extends SocketAddress> addresses) {
    if (addresses.size() == 1) {
      return addressText(addresses.get(0));
    }
    List<String> texts = new ArrayList<>(addresses.size());
    for (SocketAddress address : addresses) {
      texts.add(addressText(address));
    }
    return texts.toString();
  }

  private static String addressText(SocketAddress address) {
    String text = address.toString();
    return text.startsWith("/") ? text.substring(1) : text;
  }

  /** The descriptions of the components whose target is {@code target}, or of all when null. */
  public static List<String> describe(@Nullable String target) {
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
