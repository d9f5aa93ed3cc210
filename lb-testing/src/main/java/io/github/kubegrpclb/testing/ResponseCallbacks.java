package io.github.kubegrpclb.testing;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall.SimpleForwardingClientCall;
import io.grpc.ForwardingClientCallListener.SimpleForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * A client interceptor that hands every call's response headers, or its closing status and
 * trailers, to a callback before the application sees them: what a test needs to learn which pod
 * answered ({@link LoopbackPod#POD_HEADER}) or on which thread a call closed. Thread-safe when its
 * callback is; the callback runs on the call's executor.
 */
public final class ResponseCallbacks implements ClientInterceptor {
  private final Consumer<Metadata> onHeaders;
  private final BiConsumer<Status, Metadata> onClose;

  private ResponseCallbacks(Consumer<Metadata> onHeaders, BiConsumer<Status, Metadata> onClose) {
    this.onHeaders = onHeaders;
    this.onClose = onClose;
  }

  /** Calls {@code onHeaders} with each call's response headers. */
  public static ResponseCallbacks onHeaders(Consumer<Metadata> onHeaders) {
    return new ResponseCallbacks(onHeaders, (status, trailers) -> {});
  }

  /** Calls {@code onClose} with each call's closing status and trailers. */
  public static ResponseCallbacks onClose(BiConsumer<Status, Metadata> onClose) {
    return new ResponseCallbacks(headers -> {}, onClose);
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
                onHeaders.accept(responseHeaders);
                super.onHeaders(responseHeaders);
              }

              @Override
              public void onClose(Status status, Metadata trailers) {
                onClose.accept(status, trailers);
                super.onClose(status, trailers);
              }
            },
            headers);
      }
    };
  }
}
