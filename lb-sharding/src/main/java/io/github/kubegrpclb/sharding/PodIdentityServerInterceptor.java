package io.github.kubegrpclb.sharding;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.util.Objects;

/**
 * The server side of {@link ShardedChannel.Builder#podIdentityHeader}: puts the pod's name in a
 * response header of every call, so that a ShardedChannel knows which pod each of its connections
 * reached and can re-dial the connections that pile up on one pod. Install it on every service of
 * the server:
 *
 * <pre>{@code
 * ServerServiceDefinition myService = ServerServiceDefinition.builder("my.Greeter").build(); // yours
 * Server server =
 *     ServerBuilder.forPort(50051)
 *         .addService(
 *             ServerInterceptors.intercept(
 *                 myService,
 *                 PodIdentityServerInterceptor.fromEnvironment(
 *                     PodIdentityServerInterceptor.DEFAULT_HEADER)))
 *         .build();
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class PodIdentityServerInterceptor implements ServerInterceptor {
  /** The header name a client sets with {@code podIdentityHeader(DEFAULT_HEADER)}. */
  public static final String DEFAULT_HEADER = "x-kube-grpc-lb-pod";

  private final Metadata.Key<String> header;
  private final String podName;

  private PodIdentityServerInterceptor(String header, String podName) {
    this.header = Metadata.Key.of(header, Metadata.ASCII_STRING_MARSHALLER);
    this.podName = podName;
  }

  /**
   * Names the pod {@code podName} in response header {@code header}.
   *
   * @throws IllegalArgumentException naming the header or the pod name when it cannot be sent
   */
  public static PodIdentityServerInterceptor of(String header, String podName) {
    Objects.requireNonNull(header, "header");
    Objects.requireNonNull(podName, "podName");
    if (podName.isEmpty() || !podName.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
      throw new IllegalArgumentException(
          "podName: '" + podName + "' (expected: a non-empty printable ASCII name, the pod's)");
    }
    try {
      return new PodIdentityServerInterceptor(header, podName);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "header: '"
              + header
              + "' ("
              + e.getMessage()
              + "); expected: lower-case letters, digits, '-', not ending in '-bin'",
          e);
    }
  }

  /**
   * Names the pod from the {@code POD_NAME} environment variable (set it from {@code metadata.name}
   * with the downward API), else {@code HOSTNAME}, which Kubernetes sets to the pod name.
   *
   * @throws IllegalStateException when neither is set
   */
  public static PodIdentityServerInterceptor fromEnvironment(String header) {
    String pod = System.getenv("POD_NAME");
    if (pod == null || pod.isEmpty()) {
      pod = System.getenv("HOSTNAME");
    }
    if (pod == null || pod.isEmpty()) {
      throw new IllegalStateException(
          "neither POD_NAME nor HOSTNAME is set: set POD_NAME from metadata.name (downward API)"
              + " or use PodIdentityServerInterceptor.of(header, podName)");
    }
    return of(header, pod);
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    return next.startCall(
        new SimpleForwardingServerCall<ReqT, RespT>(call) {
          @Override
          public void sendHeaders(Metadata responseHeaders) {
            responseHeaders.put(header, podName);
            super.sendHeaders(responseHeaders);
          }
        },
        headers);
  }

  @Override
  public String toString() {
    return "PodIdentityServerInterceptor(" + header.name() + ": " + podName + ")";
  }
}
