package io.github.kubegrpclb.core;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;

/**
 * The application's side of long-lived stream balancing: install {@link #interceptor()} on a
 * channel whose policy has {@code "streamRebalancing": {"enabled": true}}, and its streaming calls
 * are placed on the endpoints with the fewest open streams, moved off busy endpoints after a
 * scale-up and off terminating ones before they shut down (docs/streams.md).
 *
 * <p>A balancer cannot end a call by itself; the interceptor gives it a handle per streaming call.
 * A stream the balancer moves ends with {@link Status.Code#UNAVAILABLE} and a description starting
 * with {@link #MOVED_DESCRIPTION_PREFIX} ({@link #isMove} recognises it), unless the call carries a
 * {@link #MOVE_HANDLER}: then the handler is told, and the application ends the stream at a message
 * boundary itself. Unary calls pass through untouched. Thread-safe.
 */
public final class StreamRebalancing {
  /** How the description of a moved stream's status begins. */
  public static final String MOVED_DESCRIPTION_PREFIX = "kube-grpc-lb moved this stream";

  /**
   * Per call: who ends the stream when the balancer wants it moved. The handler runs on the
   * channel's balancer thread and must not block; it should end the stream soon (for example
   * complete the request side after the current message and open a new call). A stream on a
   * terminating endpoint that is still open at the end of the drain window is cancelled anyway.
   */
  public static final CallOptions.Key<MoveHandler> MOVE_HANDLER =
      CallOptions.Key.create("io.github.kubegrpclb.stream.move-handler");

  private static final ClientInterceptor INTERCEPTOR = new Interceptor();

  private StreamRebalancing() {}

  /** Told that the balancer wants a stream moved; see {@link #MOVE_HANDLER}. */
  @FunctionalInterface
  public interface MoveHandler {
    /**
     * The balancer asks the application to end this stream and open it again.
     *
     * @param reason UNAVAILABLE, with a description that says why (scale-up, imbalance, terminating
     *     endpoint)
     */
    void moveRequested(Status reason);
  }

  /**
   * The interceptor that lets the channel's balancer place, count and move streaming calls; one
   * shared, stateless instance.
   */
  public static ClientInterceptor interceptor() {
    return INTERCEPTOR;
  }

  /** Whether {@code status} is the one a stream moved by the balancer ends with: open it again. */
  public static boolean isMove(Status status) {
    String description = status.getDescription();
    return status.getCode() == Status.Code.UNAVAILABLE
        && description != null
        && description.startsWith(MOVED_DESCRIPTION_PREFIX);
  }

  private static final class Interceptor implements ClientInterceptor {
    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
        MethodDescriptor<ReqT, RespT> method, CallOptions callOptions, Channel next) {
      if (method.getType() == MethodDescriptor.MethodType.UNARY) {
        return next.newCall(method, callOptions);
      }
      StreamHandle handle = new StreamHandle(callOptions.getOption(MOVE_HANDLER));
      ClientCall<ReqT, RespT> call =
          next.newCall(method, callOptions.withOption(StreamHandle.KEY, handle));
      handle.setCall(call);
      return new ForwardingClientCall.SimpleForwardingClientCall<ReqT, RespT>(call) {
        @Override
        public void start(Listener<RespT> listener, Metadata headers) {
          super.start(
              new ForwardingClientCallListener.SimpleForwardingClientCallListener<RespT>(listener) {
                @Override
                public void onClose(Status status, Metadata trailers) {
                  super.onClose(handle.closed(status), trailers);
                }
              },
              headers);
        }
      };
    }
  }
}
