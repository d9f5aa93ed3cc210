package io.github.kubegrpclb.testing;

import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * Waits, with a deadline, until a channel is connected, so that a test can then send fail-fast
 * calls and count every failure as one a user would see: {@code withWaitForReady()} would hide the
 * transient ones. Keep wait-for-ready for scenarios that are about waiting.
 *
 * <p>Stateless and thread-safe.
 */
public final class ChannelReadiness {
  /** How long each wait may take; generous, for a loaded 2-core machine. */
  public static final Duration TIMEOUT = Duration.ofSeconds(30);

  private ChannelReadiness() {}

  /**
   * Asks {@code channel} to connect and waits until it is READY: its balancer has at least one
   * endpoint to pick, so fail-fast calls no longer fail for want of a connection.
   */
  public static void awaitReady(ManagedChannel channel) {
    awaitReady(channel, TIMEOUT);
  }

  /** {@link #awaitReady(ManagedChannel)} with a deadline of {@code timeout}. */
  public static void awaitReady(ManagedChannel channel, Duration timeout) {
    Awaitility.await(channel + " READY")
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(5))
        .until(() -> channel.getState(true) == ConnectivityState.READY);
  }

  /**
   * Waits until {@code channel} is READY, then makes fail-fast {@link PodService#WHOAMI} calls, one
   * at a time, until every pod named in {@code pods} answered one: each of their connections is up
   * and in rotation. A failed call fails the wait: after READY there should be none.
   */
  public static void awaitEveryPod(ManagedChannel channel, Collection<String> pods) {
    awaitReady(channel);
    Set<String> missing = new HashSet<>(pods);
    Awaitility.await("every pod of " + pods + " answered through " + channel)
        .atMost(TIMEOUT)
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(1))
        .pollInSameThread()
        .until(
            () -> {
              String pod =
                  PodService.whoami(
                      channel,
                      CallOptions.DEFAULT.withDeadlineAfter(
                          RpcLoad.CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS));
              missing.remove(pod);
              return missing.isEmpty();
            });
  }

  /** {@link #awaitEveryPod(ManagedChannel, Collection)} over every pod of {@code pods}. */
  public static void awaitEveryPod(ManagedChannel channel, LoopbackPods pods) {
    awaitEveryPod(channel, pods.names());
  }
}
