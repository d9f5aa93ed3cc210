package io.github.kubegrpclb.core;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The probe {@link OutlierEjection} sends before re-admitting an endpoint: one {@code
 * grpc.health.v1.Health/Check} for the server's overall health ("" service) over the endpoint's own
 * connection. Any answer counts, UNIMPLEMENTED included (a server without the health service still
 * answered): the question is whether the pod is reachable and responsive, not whether it is ready.
 * Timing out, UNAVAILABLE and CANCELLED count as no answer. Needs no generated code: the request is
 * the empty message and the response is not read. Stateless and thread-safe.
 */
final class ReadmissionProbe implements OutlierEjection.Prober {
  static final ReadmissionProbe INSTANCE = new ReadmissionProbe();

  private static final MethodDescriptor<byte[], byte[]> CHECK =
      MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("grpc.health.v1.Health/Check")
          .setRequestMarshaller(Bytes.INSTANCE)
          .setResponseMarshaller(Bytes.INSTANCE)
          .build();

  private ReadmissionProbe() {}

  @Override
  public void probe(Subchannel subchannel, long timeoutNanos, Consumer<Boolean> answered) {
    ClientCall<byte[], byte[]> call;
    try {
      call =
          subchannel
              .asChannel()
              .newCall(
                  CHECK, CallOptions.DEFAULT.withDeadlineAfter(timeoutNanos, TimeUnit.NANOSECONDS));
    } catch (RuntimeException e) {
      answered.accept(false);
      return;
    }
    call.start(
        new ClientCall.Listener<byte[]>() {
          @Override
          public void onClose(Status status, Metadata trailers) {
            Status.Code code = status.getCode();
            answered.accept(
                code != Status.Code.DEADLINE_EXCEEDED
                    && code != Status.Code.UNAVAILABLE
                    && code != Status.Code.CANCELLED);
          }
        },
        new Metadata());
    call.request(1);
    call.sendMessage(new byte[0]);
    call.halfClose();
  }

  private static final class Bytes implements MethodDescriptor.Marshaller<byte[]> {
    static final Bytes INSTANCE = new Bytes();

    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
  }
}
