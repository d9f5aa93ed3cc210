package io.github.kubegrpclb.core;

import io.grpc.ConnectivityState;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Function;
import java.util.function.Predicate;
import javax.annotation.Nullable;

/**
 * Outlier ejection's evidence that a silence or a streak of unanswered failures is the endpoint's
 * own ({@link OutlierEjection}): a hung pod or a partition leaves its RPCs unanswered while its
 * peers answer; a client-side blip or a GC pause silences most endpoints at once. Stateless; called
 * in the SynchronizationContext.
 */
final class SilenceRules {
  private final Predicate<Endpoint<?>> isEjected;
  private final Function<Endpoint<?>, OutcomeCounts> outcomes;

  /**
   * @param isEjected whether an endpoint is out already (not counted among its peers)
   * @param outcomes an endpoint's outcome counts
   */
  SilenceRules(Predicate<Endpoint<?>> isEjected, Function<Endpoint<?>, OutcomeCounts> outcomes) {
    this.isEjected = isEjected;
    this.outcomes = outcomes;
  }

  /**
   * Whether more than half of the endpoints in rotation are failing unanswered or have been silent
   * for at least half of {@code silentNanos}.
   */
  boolean shared(Collection<? extends Endpoint<?>> endpoints, long silentNanos, long nowNanos) {
    long half = Math.max(1, silentNanos / 2);
    int inRotation = 0;
    int troubled = 0;
    for (Endpoint<?> other : endpoints) {
      if (!isEjected.test(other)) {
        inRotation++;
        OutcomeCounts counts = outcomes.apply(other);
        if (counts.failingUnanswered() || counts.silentNanos(nowNanos) >= half) {
          troubled++;
        }
      }
    }
    return troubled * 2 > inRotation;
  }

  /**
   * The connected endpoints in rotation whose RPCs have been unanswered for {@code limitNanos}
   * ({@code probationLimitNanos} on probation) while most of their peers answered; null when none.
   */
  @Nullable
  List<Endpoint<?>> silent(
      Collection<? extends Endpoint<?>> endpoints,
      long nowNanos,
      long limitNanos,
      long probationLimitNanos) {
    List<Endpoint<?>> silent = null;
    for (Endpoint<?> endpoint : endpoints) {
      OutcomeCounts counts = outcomes.apply(endpoint);
      long silentNanos = counts.silentNanos(nowNanos);
      // Only a connected endpoint's silence is its own: once its connection is lost, every RPC on
      // it has ended and what is left is the client's or the network's (a client blip whose
      // reconnect backoff outlasted the peers'); a reconnect starts its silence afresh.
      if (!isEjected.test(endpoint)
          && endpoint.state() == ConnectivityState.READY
          && silentNanos >= (counts.onProbation() ? probationLimitNanos : limitNanos)
          && peersAnsweredSince(endpoints, endpoint, nowNanos - silentNanos)) {
        if (silent == null) {
          silent = new ArrayList<>();
        }
        silent.add(endpoint);
      }
    }
    return silent; // a silence shared by most endpoints fails peersAnsweredSince: not acted on
  }

  /**
   * Whether more than half of the other endpoints in rotation answered since {@code sinceNanos}:
   * the evidence that the silence is the endpoint's, not idleness or the network's.
   */
  private boolean peersAnsweredSince(
      Collection<? extends Endpoint<?>> endpoints, Endpoint<?> silent, long sinceNanos) {
    int others = 0;
    int answered = 0;
    for (Endpoint<?> other : endpoints) {
      if (other != silent && !isEjected.test(other)) {
        others++;
        answered += outcomes.apply(other).answeredSince(sinceNanos) ? 1 : 0;
      }
    }
    return answered * 2 > others;
  }
}
