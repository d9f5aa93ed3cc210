package io.github.kubegrpclb.core;

import io.github.kubegrpclb.core.internal.Snapshots;
import java.util.List;

/**
 * A human-readable view of this library's live balancers, resolvers and sharded channels in this
 * JVM: for each, what it currently thinks of every endpoint (connection state, condition, zone,
 * whether it is in rotation, RPCs in flight, peak_ewma's estimate and cost, ejection). Meant for a
 * debug or health endpoint:
 *
 * <pre>{@code
 * System.out.println(LbDebug.snapshot());
 * }</pre>
 *
 * <p>The same views are logged through each channel's {@code ChannelLogger} (DEBUG) when they
 * change. Thread-safe; rendering reads state the components publish safely and never blocks them.
 */
public final class LbDebug {
  private LbDebug() {}

  /** Every live component, one multi-line block each, separated by blank lines. */
  public static String snapshot() {
    return join(Snapshots.describe(null));
  }

  /**
   * The live components of channels created for {@code target}, exactly as passed to the channel
   * builder (e.g. {@code "kubernetes:///my-svc.my-ns:grpc"}); empty when there is none.
   */
  public static String snapshot(String target) {
    if (target == null) {
      throw new NullPointerException("target (expected: a channel target such as kubernetes:///)");
    }
    return join(Snapshots.describe(target));
  }

  private static String join(List<String> blocks) {
    return String.join("\n\n", blocks);
  }
}
