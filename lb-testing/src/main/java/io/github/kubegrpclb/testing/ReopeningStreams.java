package io.github.kubegrpclb.testing;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import org.awaitility.Awaitility;

/**
 * A fixed number of long-lived server streams ({@link PodService#WATCH}) kept open on a channel, as
 * an application's reconnect loop keeps its watches: a stream that ends is opened again at once
 * (fail-fast), and counted as moved when its status is the one a balancer uses to move streams, or
 * as cut otherwise. A stream counts on a pod from its first message (the pod's name). An open that
 * fails before that message is retried after 50 ms.
 *
 * <p>Thread-safe; {@link #close} cancels every stream and stops re-opening.
 */
public final class ReopeningStreams implements AutoCloseable {
  private final Channel channel;
  private final Predicate<Status> isMove;
  private final ScheduledExecutorService retries;
  private final Set<Watch> open = ConcurrentHashMap.newKeySet();
  private final AtomicInteger moved = new AtomicInteger();
  private final AtomicInteger cut = new AtomicInteger();
  private final AtomicInteger failedOpens = new AtomicInteger();
  private final List<String> cuts = new ArrayList<>();
  private volatile boolean closed;
  private int count;

  private ReopeningStreams(Channel channel, Predicate<Status> isMove) {
    this.channel = channel;
    this.isMove = isMove;
    this.retries =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread thread = new Thread(r, "reopening-streams");
              thread.setDaemon(true);
              return thread;
            });
  }

  /**
   * Opens {@code count} streams on {@code channel} (which carries any interceptor the balancer
   * needs).
   *
   * @param isMove whether a stream's status means "moved: open it again elsewhere"
   */
  public static ReopeningStreams start(Channel channel, int count, Predicate<Status> isMove) {
    ReopeningStreams streams = new ReopeningStreams(channel, isMove);
    streams.count = count;
    for (int i = 0; i < count; i++) {
      streams.openOne();
    }
    return streams;
  }

  /**
   * Waits until the fleet's rebalancing is over: every stream opened is established, {@code
   * balanced} holds, and no stream has moved for {@code quiet}; a balance test's own criterion (a
   * spread bound) can hold while the rebalancer's stricter one still moves streams, so a quiet
   * spell is what says it is done.
   */
  public void awaitSettled(BooleanSupplier balanced, Duration quiet, Duration atMost) {
    long[] lastChange = {System.nanoTime(), -1};
    Awaitility.await()
        .atMost(atMost)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              long now = System.nanoTime();
              int movedNow = moved();
              if (movedNow != lastChange[1] || established() != count || !balanced.getAsBoolean()) {
                lastChange[0] = now;
                lastChange[1] = movedNow;
                return false;
              }
              return now - lastChange[0] >= quiet.toNanos();
            });
  }

  private void openOne() {
    if (closed) {
      return;
    }
    Watch watch = new Watch(channel.newCall(PodService.WATCH, CallOptions.DEFAULT));
    open.add(watch);
    watch.start();
  }

  /** Streams established (first message received) and open now, by pod name, sorted. */
  public Map<String, Integer> perPod() {
    Map<String, Integer> counts = new TreeMap<>();
    for (Watch watch : open) {
      String pod = watch.pod;
      if (pod != null) {
        counts.merge(pod, 1, Integer::sum);
      }
    }
    return counts;
  }

  /** Streams established and open now. */
  public int established() {
    int n = 0;
    for (Watch watch : open) {
      n += watch.pod == null ? 0 : 1;
    }
    return n;
  }

  /** Established streams that ended with the move status (and were opened again). */
  public int moved() {
    return moved.get();
  }

  /** Established streams that ended with any other status: cut by a server, a failure. */
  public int cut() {
    return cut.get();
  }

  /** Each cut stream's pod and status, for a failing test's message. */
  public synchronized List<String> cuts() {
    return List.copyOf(cuts);
  }

  /** Opens that failed before their first message (retried). */
  public int failedOpens() {
    return failedOpens.get();
  }

  @Override
  public void close() {
    closed = true;
    for (Watch watch : open) {
      watch.call.cancel("test over", null);
    }
    retries.shutdownNow();
  }

  private synchronized void recordCut(String pod, Status status) {
    cuts.add(pod + ": " + status);
  }

  private final class Watch extends ClientCall.Listener<String> {
    final ClientCall<String, String> call;
    volatile String pod;

    Watch(ClientCall<String, String> call) {
      this.call = call;
    }

    void start() {
      call.start(this, new Metadata());
      call.sendMessage("");
      call.halfClose();
      call.request(1);
    }

    @Override
    public void onMessage(String name) {
      pod = name;
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      open.remove(this);
      if (closed) {
        return;
      }
      if (pod == null) {
        failedOpens.incrementAndGet();
        try {
          retries.schedule(ReopeningStreams.this::openOne, 50, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
          // closed meanwhile: nothing to re-open
        }
        return;
      }
      if (isMove.test(status)) {
        moved.incrementAndGet();
      } else {
        cut.incrementAndGet();
        recordCut(pod, status);
      }
      openOne();
    }
  }
}
