package io.github.kubegrpclb.core;

import io.grpc.Status;

/**
 * The status a stream the balancer moves ends with: {@code UNAVAILABLE} with a description that
 * starts with {@link StreamRebalancing#MOVED_DESCRIPTION_PREFIX} (so {@link
 * StreamRebalancing#isMove} recognises it) and says why, for the application's log. Stateless.
 */
final class MovedStreamStatus {
  private MovedStreamStatus() {}

  /** A rebalancing round moves a stream off {@code endpoint}, which had {@code open} streams. */
  static Status rebalanced(String reason, Endpoint<?> endpoint, int open, double fair, int of) {
    return Status.UNAVAILABLE.withDescription(
        StreamRebalancing.MOVED_DESCRIPTION_PREFIX
            + ": "
            + reason
            + " ("
            + BalancerPublisher.addressOf(endpoint)
            + " had "
            + open
            + " open streams, fair share "
            + Math.round(fair * 10) / 10.0
            + " over "
            + of
            + " endpoints); open it again");
  }

  /** Draining moves a stream off {@code endpoint}, terminating or gone from the endpoint set. */
  static Status drained(Endpoint<?> endpoint) {
    return Status.UNAVAILABLE.withDescription(
        StreamRebalancing.MOVED_DESCRIPTION_PREFIX
            + ": "
            + StreamRebalancer.TERMINATING
            + " ("
            + BalancerPublisher.addressOf(endpoint)
            + (endpoint.isRemoved() ? " left the endpoint set" : " is terminating")
            + "); open it again");
  }
}
