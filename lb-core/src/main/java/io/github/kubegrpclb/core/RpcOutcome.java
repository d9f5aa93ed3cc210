package io.github.kubegrpclb.core;

import io.grpc.CallOptions;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import javax.annotation.Nullable;

/**
 * How both policies' stream tracers read an RPC attempt: the deadline that applies to it, what its
 * close status says about the endpoint, and whether it reached the endpoint at all. One
 * classification, so that kube_round_robin and peak_ewma eject on the same evidence. Stateless.
 *
 * <p>The deadline. An RPC made inside a server handler (or any {@code Context} with a deadline)
 * inherits the Context's deadline, and grpc-java does not copy it into the attempt's {@code
 * CallOptions}: {@code ClientCallImpl} only uses the earlier of the two for its timer and the
 * {@code grpc-timeout} header. grpc-java attaches the call's Context around {@code
 * ClientTransport.newStream} on every path that creates a stream (the pick on the caller's thread,
 * a buffered pick replayed from another thread in {@code DelayedClientTransport}, and each retry
 * attempt in {@code RetriableStream.newSubstream}), and the load balancer's {@code
 * ClientStreamTracer.Factory} is called inside it. So a tracer reads {@code Context.current()} when
 * it is created, not at pick time (a buffered pick runs without the caller's Context).
 *
 * <p>Reaching the endpoint. An attempt counts against its endpoint only if its headers went out
 * ({@code outboundHeaders}), and not if the endpoint's GOAWAY refused it unanswered (grpc-java
 * closes such streams UNAVAILABLE, "Abrupt GOAWAY closed sent/unsent stream", "GOAWAY closed
 * buffered stream", and retries them transparently): a reconnect after a graceful GOAWAY is not a
 * failure. grpc-java does not tell a load balancer's tracer about transparent retries ({@code
 * StreamInfo.isTransparentRetry} is always false there: it builds the info from the CallOptions
 * alone), and a drop or a pick on a transport already shut down never sends headers.
 */
final class RpcOutcome {
  private RpcOutcome() {}

  /**
   * The deadline of an attempt whose tracer is being created: the earlier of its CallOptions' and
   * the current Context's, or null. Allocates nothing.
   */
  @Nullable
  static Deadline attemptDeadline(CallOptions options) {
    Deadline fromOptions = options.getDeadline();
    Deadline fromContext = Context.current().getDeadline();
    if (fromOptions == null) {
      return fromContext;
    }
    return fromContext == null ? fromOptions : fromOptions.minimum(fromContext);
  }

  /**
   * The code an attempt ended with, as the endpoint caused it. grpc-java's retry support (on by
   * default) cancels an attempt whose call deadline expired with CANCELLED ("Stream thrown away
   * because RetriableStream committed"), so a CANCELLED attempt past its deadline is a
   * DEADLINE_EXCEEDED: the endpoint did not answer in time. Other CANCELLED attempts were given up
   * by the client and say nothing about the endpoint.
   */
  static Status.Code effectiveCode(Status status, @Nullable Deadline deadline) {
    Status.Code code = status.getCode();
    if (code == Status.Code.CANCELLED && deadline != null && deadline.isExpired()) {
      return Status.Code.DEADLINE_EXCEEDED;
    }
    return code;
  }

  /**
   * Whether an attempt says anything about its endpoint: it was sent, was not given up by the
   * client (CANCELLED before its deadline) and was not refused unanswered by a GOAWAY.
   */
  static boolean counts(boolean sent, boolean answered, Status status, Status.Code effective) {
    if (!sent || effective == Status.Code.CANCELLED) {
      return false;
    }
    return answered || !refusedByGoAway(status);
  }

  private static boolean refusedByGoAway(Status status) {
    String description = status.getDescription();
    return status.getCode() == Status.Code.UNAVAILABLE
        && description != null
        && description.contains("GOAWAY");
  }
}
