package io.github.kubegrpclb.core;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * RPC outcomes of one endpoint for outlier ejection: the current streak of consecutive failures,
 * successes, failures and success latencies since the last interval, and since when the endpoint
 * has left every RPC sent to it unanswered (its silence). When the streak reaches a multiple of the
 * threshold, or an RPC fails while the endpoint is on probation (re-admitted, not yet as many
 * successes in a row as the threshold), it calls the armed trigger, which hands the decision to the
 * SynchronizationContext. After an ejection for latency, a success still as slow during that
 * probation also calls it.
 *
 * <p>Only attempts that reached the endpoint are recorded (see {@link RpcOutcome}); only unary RPCs
 * are traced at all, so a long-lived stream never looks silent.
 *
 * <p>Thread-safe: RPCs complete on transport threads; counters are atomics and the trigger is
 * volatile.
 */
final class OutcomeCounts {
  static final long NOT_SILENT = Long.MIN_VALUE;

  private final AtomicInteger streak = new AtomicInteger();
  private final AtomicLong successes = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private final AtomicLong latencySumNanos = new AtomicLong();
  // Success-rate window: kept over intervals until enough endpoints have the request volume.
  private final AtomicLong windowSuccesses = new AtomicLong();
  private final AtomicLong windowFailures = new AtomicLong();
  // The send time of the first RPC sent after the endpoint's last answer, NOT_SILENT while every
  // RPC sent has been answered: now - silentSince is a lower bound on how long the endpoint's
  // oldest unanswered RPC has waited, kept without a queue of start times.
  private final AtomicLong silentSinceNanos = new AtomicLong(NOT_SILENT);
  private final AtomicLong lastAnswerNanos = new AtomicLong(NOT_SILENT);
  // Successes still needed to end the probation (0: not on probation).
  private final AtomicInteger probationLeft = new AtomicInteger();
  // After an ejection for latency: a success slower than this during the probation that follows is
  // no real success and triggers (0: latency not watched).
  private volatile long probationSlowNanos;
  private volatile boolean lastFailureUnanswered;
  private volatile int threshold = Integer.MAX_VALUE;
  private volatile Runnable trigger = () -> {};

  /**
   * Calls {@code onTrigger} whenever the failure streak reaches a multiple of {@code threshold},
   * and on a failure during probation.
   */
  void arm(int threshold, Runnable onTrigger) {
    this.threshold = threshold;
    this.trigger = onTrigger;
  }

  /** An RPC's headers went out to the endpoint at {@code nowNanos}. */
  void sent(long nowNanos) {
    silentSinceNanos.compareAndSet(NOT_SILENT, nowNanos);
  }

  /**
   * An RPC sent at {@code sentNanos} ended without being recorded (cancelled by its caller, a
   * losing hedge, refused by a GOAWAY): an answer ends the silence as for any RPC, and an
   * unanswered one no longer holds it open, since nobody will record its end.
   */
  void abandoned(long sentNanos, boolean answered, long nowNanos) {
    if (answered) {
      answer(nowNanos);
    } else {
      silentSinceNanos.compareAndSet(sentNanos, NOT_SILENT);
    }
  }

  private void answer(long nowNanos) {
    silentSinceNanos.set(NOT_SILENT);
    long prev;
    do {
      prev = lastAnswerNanos.get();
    } while (nowNanos > prev && !lastAnswerNanos.compareAndSet(prev, nowNanos));
  }

  /**
   * Records one finished RPC that reached the endpoint.
   *
   * @param failure whether its (effective) code is one of the ejection failure codes
   * @param answered whether the endpoint answered it at all (headers, a message or trailers), as
   *     opposed to a timeout or a lost connection
   * @param latencyNanos how long it took, for a success
   * @param nowNanos when it ended
   */
  void record(boolean failure, boolean answered, long latencyNanos, long nowNanos) {
    if (answered) {
      answer(nowNanos);
    }
    if (failure) {
      lastFailureUnanswered = !answered;
      failures.incrementAndGet();
      windowFailures.incrementAndGet();
      if (streak.incrementAndGet() % threshold == 0 || probationLeft.get() > 0) {
        trigger.run();
      }
    } else {
      long slow = probationSlowNanos;
      if (slow > 0 && latencyNanos > slow && probationLeft.get() > 0) {
        trigger.run(); // as slow as when it was ejected for it: not the success that re-admits
      } else if (probationLeft.getAndUpdate(left -> Math.max(0, left - 1)) == 1) {
        probationSlowNanos = 0; // a real success, the last its probation needed
      }
      successes.incrementAndGet();
      windowSuccesses.incrementAndGet();
      latencySumNanos.addAndGet(Math.max(0, latencyNanos));
      streak.set(0);
    }
  }

  int streak() {
    return streak.get();
  }

  /** How long every RPC sent to the endpoint has gone unanswered, as of {@code nowNanos}. */
  long silentNanos(long nowNanos) {
    long since = silentSinceNanos.get();
    return since == NOT_SILENT ? 0 : Math.max(0, nowNanos - since);
  }

  /** Whether the endpoint answered an RPC at or after {@code sinceNanos}. */
  boolean answeredSince(long sinceNanos) {
    long last = lastAnswerNanos.get();
    return last != NOT_SILENT && last >= sinceNanos;
  }

  /** Whether its last failure was unanswered (a timeout, a lost connection) and still current. */
  boolean failingUnanswered() {
    return streak.get() > 0 && lastFailureUnanswered;
  }

  /**
   * Ejected for latency: until a probation after its re-admission ends, a success slower than
   * {@code slowNanos} calls the trigger instead of counting toward the end of the probation.
   */
  void ejectedForLatency(long slowNanos) {
    probationSlowNanos = slowNanos;
  }

  boolean onProbation() {
    return probationLeft.get() > 0;
  }

  /**
   * Starts afresh, as after re-admission or a reconnect: no streak, no silence; with {@code
   * onProbation}, on probation until as many successes in a row as the streak that ejects.
   */
  void reset(boolean onProbation) {
    streak.set(0);
    silentSinceNanos.set(NOT_SILENT);
    lastFailureUnanswered = false;
    probationLeft.set(onProbation ? Math.min(threshold, 100) : 0);
    if (!onProbation) {
      probationSlowNanos = 0;
    }
  }

  /**
   * Returns {@code {successes, failures}} of the success-rate window; with {@code drain}, ends it.
   */
  long[] successRateWindow(boolean drain) {
    return drain
        ? new long[] {windowSuccesses.getAndSet(0), windowFailures.getAndSet(0)}
        : new long[] {windowSuccesses.get(), windowFailures.get()};
  }

  /**
   * Returns {@code {successes, failures, latency sum of the successes}} since the last call and
   * starts counting afresh.
   */
  long[] drainInterval() {
    return new long[] {successes.getAndSet(0), failures.getAndSet(0), latencySumNanos.getAndSet(0)};
  }
}
