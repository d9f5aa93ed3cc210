package io.github.kubegrpclb.xds;

import io.github.kubegrpclb.testing.LoopbackPod;
import io.github.kubegrpclb.testing.ResponseCallbacks;
import io.grpc.ClientInterceptor;
import io.grpc.Metadata;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Records, per pod, the {@link System#nanoTime} at which the client received the response headers
 * of that pod's first RPC ({@link LoopbackPod#POD_HEADER}): when a pod first served this channel,
 * as the client sees it. Install {@link #interceptor()} on the channel. Thread-safe.
 */
final class FirstResponses {
  private final Map<String, Long> firstNanos = new ConcurrentHashMap<>();

  /** When {@code pod} first answered, or null if it has not. */
  Long firstResponseNanos(String pod) {
    return firstNanos.get(pod);
  }

  /** The interceptor that records. */
  ClientInterceptor interceptor() {
    return ResponseCallbacks.onHeaders(this::record);
  }

  private void record(Metadata responseHeaders) {
    long now = System.nanoTime();
    String pod = responseHeaders.get(LoopbackPod.POD_HEADER);
    if (pod != null) {
      firstNanos.putIfAbsent(pod, now);
    }
  }
}
