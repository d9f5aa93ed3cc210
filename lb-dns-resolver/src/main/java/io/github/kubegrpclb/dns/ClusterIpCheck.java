package io.github.kubegrpclb.dns;

import io.grpc.ChannelLogger;
import io.grpc.ChannelLogger.ChannelLogLevel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import javax.annotation.Nullable;

/**
 * Notices a ClusterIP Service given to {@code headless:///}: CoreDNS then answers the Service's
 * virtual IP (one A record) and SRV records naming the Service itself, so the channel holds one
 * connection and kube-proxy's one choice takes every RPC, the problem this library exists to solve.
 * Certain from SRV records (a headless Service's name its pods); from A records only a hint, after
 * {@link #SINGLE_ADDRESS_ANSWERS} answers in a row over at least {@link #SINGLE_ADDRESS_TIME} with
 * the same single address (a headless Service with one ready pod looks the same). Warns once per
 * resolver.
 *
 * <p>Not thread-safe: confined to the resolver's SynchronizationContext.
 */
final class ClusterIpCheck {
  /** Answers in a row with one unchanged address before the hint. */
  static final int SINGLE_ADDRESS_ANSWERS = 3;

  /** How long one unchanged address must last before the hint. */
  static final Duration SINGLE_ADDRESS_TIME = Duration.ofMinutes(1);

  private static final String FIX =
      "every RPC then rides one connection to the pod kube-proxy chose. Fix: make the Service"
          + " headless (clusterIP: None), or use kubernetes:///<service>.<namespace>:<port>, or"
          + " ShardedChannel for a ClusterIP Service";

  private final HeadlessTarget target;
  private final ChannelLogger logger;
  private final LongSupplier nanoClock;
  @Nullable private InetSocketAddress single;
  private int singleAnswers;
  private long singleSinceNanos;
  private boolean warned;

  ClusterIpCheck(HeadlessTarget target, ChannelLogger logger, LongSupplier nanoClock) {
    this.target = target;
    this.logger = logger;
    this.nanoClock = nanoClock;
  }

  /**
   * Checks one successful answer; returns the note for the resolution result, or null when the
   * answer does not look like a ClusterIP Service.
   */
  @Nullable
  String check(boolean srvNamesTheService, Set<InetSocketAddress> addresses) {
    String note = null;
    if (srvNamesTheService) {
      note =
          "_"
              + target.portName
              + "._tcp."
              + target.host
              + " names the Service itself, not its pods: a ClusterIP Service; "
              + FIX;
    } else if (target.portName == null && addresses.size() == 1) {
      InetSocketAddress only = addresses.iterator().next();
      if (!only.equals(single)) {
        singleAnswers = 0;
        singleSinceNanos = nanoClock.getAsLong();
      }
      singleAnswers++;
      single = only;
      if (singleAnswers >= SINGLE_ADDRESS_ANSWERS
          && nanoClock.getAsLong() - singleSinceNanos >= SINGLE_ADDRESS_TIME.toNanos()) {
        note =
            target.host
                + " has had one address ("
                + only.getAddress().getHostAddress()
                + ") in "
                + singleAnswers
                + " answers in a row over "
                + TimeUnit.NANOSECONDS.toSeconds(nanoClock.getAsLong() - singleSinceNanos)
                + " s: if it is a ClusterIP Service (its virtual IP), "
                + FIX
                + " (a headless Service with one ready pod looks the same: then ignore this)";
      }
    } else {
      single = null;
      singleAnswers = 0;
    }
    if (note != null && !warned) {
      warned = true;
      logger.log(ChannelLogLevel.WARNING, "headless DNS: {0}", note);
    }
    return note;
  }
}
