package io.github.kubegrpclb.xds;

import io.github.kubegrpclb.testing.LoopbackPod;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall.SimpleForwardingClientCall;
import io.grpc.ForwardingClientCallListener.SimpleForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A client interceptor that records, per pod, the {@link System#nanoTime} at which the client
 * received the response headers of that pod's first RPC ({@link LoopbackPod#POD_HEADER}): when a
 * pod first served this channel, as the client sees it. Thread-safe.
 */
final class FirstResponses implements ClientInterceptor {
  private final Map<String, Long> firstNanos = new ConcurrentHashMap<>();

  /** When {@code pod} first answered, or null if it has not. */
  Long firstResponseNanos(String pod) {
    return firstNanos.get(pod);
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
    return new SimpleForwardingClientCall<ReqT, RespT>(next.newCall(method, options)) {
      @Override
      public void start(Listener<RespT> listener, Metadata headers) {
        super.start(
            new SimpleForwardingClientCallListener<RespT>(listener) {
              @Override
              public void onHeaders(Metadata responseHeaders) {
                long now = System.nanoTime();
                String pod = responseHeaders.get(LoopbackPod.POD_HEADER);
                if (pod != null) {
                  firstNanos.putIfAbsent(pod, now);
                }
                super.onHeaders(responseHeaders);
              }
            },
            headers);
      }
    };
  }
}
