package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.PickSubchannelArgs;
import io.grpc.LoadBalancer.SubchannelPicker;
import io.grpc.MethodDescriptor;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import javax.annotation.Nullable;

/**
 * Wraps a policy's picker when stream rebalancing is on: a streaming call that carries a {@link
 * StreamHandle} (installed by {@link StreamRebalancing#interceptor()}) goes to the endpoint of the
 * rotation with the fewest open streams, its count divided by the endpoint's slow-start weight, and
 * is counted there; every other call is the policy's, untouched (one type check and one option
 * lookup, no allocation). The rotation is the policy's: zone preference, subsetting, ejection and
 * slow start have already chosen it.
 *
 * <p>Immutable apart from the tie-breaking counter; safe for any number of threads.
 */
final class StreamPlacingPicker extends SubchannelPicker {
  private final SubchannelPicker delegate;
  private final PickResult[] streamResults;
  private final EndpointStreams[] streams;
  @Nullable private final double[] weights; // null when every weight is 1
  private final int size;
  private final AtomicInteger next = new AtomicInteger();

  /**
   * @param streamResults the rotation's stream results, the first {@code streams.length} slots
   * @param weights slow-start weights of the rotation's endpoints, or null for all 1
   */
  StreamPlacingPicker(
      SubchannelPicker delegate,
      PickResult[] streamResults,
      EndpointStreams[] streams,
      @Nullable double[] weights) {
    this.delegate = delegate;
    this.streamResults = streamResults;
    this.streams = streams;
    this.weights = weights;
    this.size = streams.length;
  }

  @Override
  public PickResult pickSubchannel(PickSubchannelArgs args) {
    if (args.getMethodDescriptor().getType() == MethodDescriptor.MethodType.UNARY) {
      return delegate.pickSubchannel(args);
    }
    StreamHandle handle = args.getCallOptions().getOption(StreamHandle.KEY);
    if (handle == null) {
      return delegate.pickSubchannel(args);
    }
    // Fewest open streams, scanned from a rotating start so that ties spread evenly.
    int start = Math.floorMod(next.getAndIncrement(), size);
    int best = start;
    double bestScore = Double.MAX_VALUE;
    for (int k = 0, i = start; k < size; k++, i = i + 1 == size ? 0 : i + 1) {
      double score = streams[i].open() + 1.0;
      if (weights != null) {
        score /= weights[i];
      }
      if (score < bestScore) {
        bestScore = score;
        best = i;
      }
    }
    handle.attach(streams[best]);
    return streamResults[best];
  }

  /** The policy's picker this one wraps (for tests and diagnostics). */
  SubchannelPicker delegate() {
    return delegate;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof StreamPlacingPicker that
        && that.delegate.equals(delegate)
        && Arrays.equals(that.streams, streams)
        && Arrays.equals(that.weights, weights);
  }

  @Override
  public int hashCode() {
    return delegate.hashCode();
  }

  @Override
  public String toString() {
    return delegate + ", streams placed by fewest open";
  }
}
