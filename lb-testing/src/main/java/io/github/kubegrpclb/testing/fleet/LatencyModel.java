package io.github.kubegrpclb.testing.fleet;

import io.grpc.Status;
import java.util.Random;

/**
 * How a simulated pod answers one RPC: after how long, and with which status. A model is immutable;
 * the pod passes in how many RPCs it served since it (re)started, for cold pods.
 */
public abstract class LatencyModel {
  /** Returned by {@link #delayNanos} for an RPC that is never answered. */
  public static final long NEVER = Long.MAX_VALUE;

  LatencyModel() {}

  /** Nanoseconds until the answer, or {@link #NEVER}. */
  abstract long delayNanos(Random random, long servedSinceStart);

  /** The status of an answered RPC. */
  Status status() {
    return Status.OK;
  }

  /** Whether the pod answers RPCs at all (false: a hung process, even RPCs already sent). */
  boolean answers() {
    return true;
  }

  /** Whether the pod answers health probes. */
  boolean answersProbes() {
    return true;
  }

  /** A healthy pod: {@code millis} +-20 %, uniform. */
  public static LatencyModel fixed(double millis) {
    return new Jittered(millis, Status.OK, "fixed " + millis + " ms");
  }

  /** A slow but correct pod (same shape as {@link #fixed}). */
  public static LatencyModel slow(double millis) {
    return new Jittered(millis, Status.OK, "slow " + millis + " ms");
  }

  /** A pod that fails every RPC at once with {@code code}; its probes answer. */
  public static LatencyModel failing(Status.Code code, double millis) {
    return new Jittered(
        millis, Status.fromCode(code).withDescription("simulated failure"), "failing " + code);
  }

  /** A hung process: accepts connections, answers nothing, probes included. */
  public static LatencyModel hung() {
    return new LatencyModel() {
      @Override
      long delayNanos(Random random, long servedSinceStart) {
        return NEVER;
      }

      @Override
      boolean answers() {
        return false;
      }

      @Override
      boolean answersProbes() {
        return false;
      }

      @Override
      public String toString() {
        return "hung";
      }
    };
  }

  /** A cold JVM: its first {@code coldRpcs} RPCs take {@code coldMillis}, then {@code warm}. */
  public static LatencyModel cold(double coldMillis, int coldRpcs, LatencyModel warm) {
    LatencyModel coldModel = fixed(coldMillis);
    return new LatencyModel() {
      @Override
      long delayNanos(Random random, long servedSinceStart) {
        return servedSinceStart < coldRpcs
            ? coldModel.delayNanos(random, servedSinceStart)
            : warm.delayNanos(random, servedSinceStart);
      }

      @Override
      public String toString() {
        return "cold " + coldMillis + " ms for " + coldRpcs + " RPCs, then " + warm;
      }
    };
  }

  private static final class Jittered extends LatencyModel {
    private final long meanNanos;
    private final Status status;
    private final String text;

    Jittered(double millis, Status status, String text) {
      this.meanNanos = (long) (millis * 1_000_000);
      this.status = status;
      this.text = text;
    }

    @Override
    long delayNanos(Random random, long servedSinceStart) {
      return Math.max(1, (long) (meanNanos * (0.8 + 0.4 * random.nextDouble())));
    }

    @Override
    Status status() {
      return status;
    }

    @Override
    public String toString() {
      return text;
    }
  }
}
