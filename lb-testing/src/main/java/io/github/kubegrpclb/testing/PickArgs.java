package io.github.kubegrpclb.testing;

import io.grpc.CallOptions;
import io.grpc.LoadBalancer;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;

/**
 * Pick arguments as grpc-java passes them to a picker, for unit tests of pickers: a unary call or a
 * streaming call of {@link PodService}-like methods. Immutable apart from the headers, which
 * pickers under test must not modify.
 */
public final class PickArgs extends LoadBalancer.PickSubchannelArgs {
  /** A unary call ({@link PodService#WHOAMI}) with default call options. */
  public static final PickArgs UNARY = new PickArgs(PodService.WHOAMI, CallOptions.DEFAULT);

  /** A client-streaming call with default call options. */
  public static final PickArgs CLIENT_STREAMING =
      new PickArgs(PodService.UPLOAD, CallOptions.DEFAULT);

  private final MethodDescriptor<?, ?> method;
  private final CallOptions options;
  private final Metadata headers = new Metadata();

  public PickArgs(MethodDescriptor<?, ?> method, CallOptions options) {
    this.method = method;
    this.options = options;
  }

  @Override
  public CallOptions getCallOptions() {
    return options;
  }

  @Override
  public Metadata getHeaders() {
    return headers;
  }

  @Override
  public MethodDescriptor<?, ?> getMethodDescriptor() {
    return method;
  }

  @Override
  public String toString() {
    return "PickArgs(" + method.getFullMethodName() + ")";
  }
}
