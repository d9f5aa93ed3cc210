package io.github.kubegrpclb.core;

import io.grpc.Status;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The streaming calls open on one endpoint, oldest first. Pickers read {@link #open()} (one atomic
 * read) and add handles from any thread; the rebalancer picks the oldest to end in the balancer's
 * SynchronizationContext. Thread-safe.
 */
final class EndpointStreams {
  private final AtomicInteger open = new AtomicInteger();
  private final NaturalCloses naturalCloses; // shared by a rebalancer's endpoints
  private final ConcurrentSkipListSet<StreamHandle> handles =
      new ConcurrentSkipListSet<>(Comparator.comparingLong(h -> h.sequence));

  /**
   * @param naturalCloses counts the long-lived streams that closed without the balancer asking
   */
  EndpointStreams(NaturalCloses naturalCloses) {
    this.naturalCloses = naturalCloses;
  }

  void add(StreamHandle handle) {
    handle.opened(naturalCloses.now());
    if (handles.add(handle)) {
      open.incrementAndGet();
    }
  }

  void remove(StreamHandle handle) {
    if (handles.remove(handle)) {
      open.decrementAndGet();
    }
  }

  /** The stream closed; {@code onItsOwn} when the balancer had not asked it to end. */
  void closed(StreamHandle handle, boolean onItsOwn) {
    if (handles.remove(handle)) {
      open.decrementAndGet();
      if (onItsOwn) {
        naturalCloses.closed(handle.openedAtNanos());
      }
    }
  }

  /** Streams open on the endpoint, counting those already asked to end. */
  int open() {
    return open.get();
  }

  /** Streams open and not yet asked to end: those that will stay unless ended. O(open). */
  int staying() {
    int staying = 0;
    for (StreamHandle handle : handles) {
      staying += handle.isEnding() ? 0 : 1;
    }
    return staying;
  }

  /**
   * Asks up to {@code n} of the oldest streams not yet asked to end to end with {@code status};
   * returns how many were asked.
   */
  int endOldest(int n, Status status) {
    List<StreamHandle> oldest = new ArrayList<>(Math.min(n, 64));
    for (StreamHandle handle : handles) {
      if (oldest.size() >= n) {
        break;
      }
      if (!handle.isEnding()) {
        oldest.add(handle);
      }
    }
    return endEach(oldest, status, false);
  }

  /**
   * Asks every stream still open to end with {@code status}, oldest first; with {@code force} even
   * those already told and still open. Returns how many were asked.
   */
  int endAll(Status status, boolean force) {
    return endEach(new ArrayList<>(handles), status, force);
  }

  private static int endEach(List<StreamHandle> chosen, Status status, boolean force) {
    int asked = 0;
    for (StreamHandle handle : chosen) {
      asked += handle.requestEnd(status, force) ? 1 : 0;
    }
    return asked;
  }

  @Override
  public String toString() {
    return "streams=" + open();
  }
}
