package io.github.kubegrpclb.testing;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The small gRPC service every {@link LoopbackPod} serves: {@code kubegrpclb.testing.Pod/Whoami}
 * answers with the pod's name. Hand-written marshallers (UTF-8 strings) keep it free of generated
 * code. Stateless and thread-safe.
 */
public final class PodService {
  /** Full service name. */
  public static final String SERVICE_NAME = "kubegrpclb.testing.Pod";

  /** Unary: request is any string (echoed nowhere), response is the serving pod's name. */
  public static final MethodDescriptor<String, String> WHOAMI =
      MethodDescriptor.<String, String>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE_NAME, "Whoami"))
          .setRequestMarshaller(StringMarshaller.INSTANCE)
          .setResponseMarshaller(StringMarshaller.INSTANCE)
          .setSampledToLocalTracing(false)
          .build();

  /**
   * Client streaming: any number of request strings; once the client half-closes, the response is
   * the serving pod's name. Holds a call open for as long as the client keeps sending, as an upload
   * does.
   */
  public static final MethodDescriptor<String, String> UPLOAD =
      MethodDescriptor.<String, String>newBuilder()
          .setType(MethodDescriptor.MethodType.CLIENT_STREAMING)
          .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE_NAME, "Upload"))
          .setRequestMarshaller(StringMarshaller.INSTANCE)
          .setResponseMarshaller(StringMarshaller.INSTANCE)
          .setSampledToLocalTracing(false)
          .build();

  /**
   * Server streaming: the serving pod sends its name as the first message, then holds the stream
   * open until the client cancels it or the server shuts down, as a watch or subscription does.
   */
  public static final MethodDescriptor<String, String> WATCH =
      MethodDescriptor.<String, String>newBuilder()
          .setType(MethodDescriptor.MethodType.SERVER_STREAMING)
          .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE_NAME, "Watch"))
          .setRequestMarshaller(StringMarshaller.INSTANCE)
          .setResponseMarshaller(StringMarshaller.INSTANCE)
          .setSampledToLocalTracing(false)
          .build();

  private PodService() {}

  /** Calls Whoami and returns the name of the pod that served it; throws on RPC failure. */
  public static String whoami(Channel channel, CallOptions options) {
    return ClientCalls.blockingUnaryCall(channel, WHOAMI, options, "");
  }

  /** Calls Whoami with default call options. */
  public static String whoami(Channel channel) {
    return whoami(channel, CallOptions.DEFAULT);
  }

  /**
   * The service of a plain pod named {@code pod}: Whoami answers with that name, and every response
   * carries it in {@link LoopbackPod#POD_HEADER}.
   */
  public static ServerServiceDefinition answeringAs(String pod) {
    ServerServiceDefinition service =
        ServerServiceDefinition.builder(SERVICE_NAME)
            .addMethod(
                WHOAMI,
                ServerCalls.asyncUnaryCall(
                    (request, response) -> {
                      response.onNext(pod);
                      response.onCompleted();
                    }))
            .build();
    return ServerInterceptors.intercept(service, podHeader(pod));
  }

  /** Adds {@link LoopbackPod#POD_HEADER} with {@code pod} to every response. */
  static ServerInterceptor podHeader(String pod) {
    return new ServerInterceptor() {
      @Override
      public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
          ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        return next.startCall(
            new SimpleForwardingServerCall<ReqT, RespT>(call) {
              @Override
              public void sendHeaders(Metadata responseHeaders) {
                responseHeaders.put(LoopbackPod.POD_HEADER, pod);
                super.sendHeaders(responseHeaders);
              }
            },
            headers);
      }
    };
  }

  /** UTF-8 string marshaller. */
  static final class StringMarshaller implements MethodDescriptor.Marshaller<String> {
    static final StringMarshaller INSTANCE = new StringMarshaller();

    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      try {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
