package io.github.kubegrpclb.sharding;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall.SimpleForwardingClientCall;
import io.grpc.ForwardingClientCallListener.SimpleForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.function.Consumer;

/**
 * Reads the serving pod's name from a response header and reports it, so a {@link ShardedChannel}
 * knows which pod each connection reached. Stateless apart from its callback; thread-safe.
 */
final class PodIdentityInterceptor implements ClientInterceptor {
  private final Metadata.Key<String> header;
  private final Consumer<String> onIdentity;

  PodIdentityInterceptor(String header, Consumer<String> onIdentity) {
    this.header = Metadata.Key.of(header, Metadata.ASCII_STRING_MARSHALLER);
    this.onIdentity = onIdentity;
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions callOptions, Channel next) {
    return new SimpleForwardingClientCall<ReqT, RespT>(next.newCall(method, callOptions)) {
      @Override
      public void start(Listener<RespT> responseListener, Metadata headers) {
        super.start(
            new SimpleForwardingClientCallListener<RespT>(responseListener) {
              @Override
              public void onHeaders(Metadata responseHeaders) {
                String identity = responseHeaders.get(header);
                if (identity != null) {
                  onIdentity.accept(identity);
                }
                super.onHeaders(responseHeaders);
              }
            },
            headers);
      }
    };
  }
}
