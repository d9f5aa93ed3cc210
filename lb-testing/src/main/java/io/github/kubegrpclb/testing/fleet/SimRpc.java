package io.github.kubegrpclb.testing.fleet;

import io.github.kubegrpclb.testing.PickArgs;
import io.github.kubegrpclb.testing.PodService;
import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ClientStreamTracer;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.LoadBalancer;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Simulated RPCs, driven as grpc-java drives them: a closed-loop caller picks through the
 * balancer's current picker (in the call's {@link Context}), buffers while the picker says so or
 * the picked connection is not READY, and runs the picked result's stream tracer through
 * streamCreated, outboundHeaders, inboundHeaders/Message/Trailers and streamClosed. A deadline from
 * {@code CallOptions} is visible to the tracer; one from the {@code Context} is not (as in
 * grpc-java); with retries on (grpc-java's default) an attempt cut by the deadline closes
 * CANCELLED. Single-threaded: the simulation's thread.
 */
final class SimRpc {
  private static final ClientStreamTracer NO_TRACER = new ClientStreamTracer() {};
  static final Status CANCELLED_BY_RETRY =
      Status.CANCELLED.withDescription("Stream thrown away because RetriableStream committed");

  private SimRpc() {}

  /** Where a caller's deadline comes from. */
  enum DeadlineSource {
    NONE,
    CALL_OPTIONS,
    CONTEXT
  }

  /** One closed-loop caller: issues an RPC, waits for its end, issues the next. */
  static final class Caller {
    final FleetSim sim;
    final int id;

    Caller(FleetSim sim, int id) {
      this.sim = sim;
      this.id = id;
    }

    void next(long afterNanos) {
      if (sim.openLoopIntervalNanos > 0) {
        return; // open loop: the next call starts on the caller's own clock
      }
      sim.schedule(afterNanos, () -> new Call(this).start());
    }

    /** Open loop: starts a call every {@code intervalNanos}, whatever became of the last ones. */
    void every(long intervalNanos) {
      sim.schedule(
          intervalNanos,
          () -> {
            new Call(this).start();
            every(intervalNanos);
          });
    }
  }

  /** One RPC (the call); a transparent retry is another attempt of the same call. */
  static final class Call {
    final Caller caller;
    final FleetSim sim;
    final CallOptions options;
    final Context.CancellableContext context;
    final PickArgs args;
    private ScheduledFuture<?> deadlineTimer;
    Attempt attempt;
    boolean done;
    int transparentRetries;

    Call(Caller caller) {
      this.caller = caller;
      this.sim = caller.sim;
      Deadline deadline =
          sim.deadlineSource == DeadlineSource.NONE
              ? null
              : Deadline.after(sim.deadlineNanos, TimeUnit.NANOSECONDS, sim.deadlineTicker);
      this.options =
          sim.deadlineSource == DeadlineSource.CALL_OPTIONS
              ? CallOptions.DEFAULT.withDeadline(deadline)
              : CallOptions.DEFAULT;
      this.context =
          sim.deadlineSource == DeadlineSource.CONTEXT
              ? Context.ROOT.withDeadline(deadline, sim.scheduler())
              : null;
      this.args = new PickArgs(PodService.WHOAMI, options);
    }

    void start() {
      if (sim.deadlineSource != DeadlineSource.NONE) {
        deadlineTimer = sim.schedule(sim.deadlineNanos, this::deadlineExceeded);
      }
      pick();
    }

    <T> T inContext(Supplier<T> action) {
      if (context == null) {
        return action.get();
      }
      Context previous = context.attach();
      try {
        return action.get();
      } finally {
        context.detach(previous);
      }
    }

    void pick() {
      if (done) {
        return;
      }
      LoadBalancer.SubchannelPicker picker = sim.helper().picker();
      if (picker == null) {
        sim.buffer(this, false);
        return;
      }
      LoadBalancer.PickResult result = inContext(() -> picker.pickSubchannel(args));
      if (!result.getStatus().isOk()) {
        finish(result.getStatus(), sim.failurePauseNanos());
        return;
      }
      if (result.getSubchannel() == null) {
        sim.buffer(this, true);
        return;
      }
      SimConnection connection = (SimConnection) result.getSubchannel();
      if (connection.state() != io.grpc.ConnectivityState.READY) {
        sim.buffer(this, false); // grpc-java's delayed transport waits for the next picker
        return;
      }
      ClientStreamTracer tracer = newTracer(result);
      tracer.streamCreated(Attributes.EMPTY, args.getHeaders());
      if (connection.draining) {
        // Refused by a connection that got GOAWAY: never left the client, retried at once.
        tracer.streamClosed(Status.UNAVAILABLE.withDescription("simulated: GOAWAY, refused"));
        sim.recorder().refused();
        transparentRetries++;
        if (transparentRetries <= 3) {
          pick();
        } else {
          sim.buffer(this, false);
        }
        return;
      }
      attempt = new Attempt(this, connection, tracer);
      attempt.send();
    }

    private ClientStreamTracer newTracer(LoadBalancer.PickResult result) {
      ClientStreamTracer.Factory factory = result.getStreamTracerFactory();
      if (factory == null) {
        return NO_TRACER;
      }
      ClientStreamTracer.StreamInfo info =
          ClientStreamTracer.StreamInfo.newBuilder()
              .setCallOptions(options)
              .setPreviousAttempts(0)
              .setIsTransparentRetry(transparentRetries > 0)
              .build();
      return inContext(() -> factory.newClientStreamTracer(info, args.getHeaders()));
    }

    private void deadlineExceeded() {
      if (done) {
        return;
      }
      if (attempt != null && !attempt.closed) {
        attempt.close(sim.retries ? CANCELLED_BY_RETRY : Status.DEADLINE_EXCEEDED);
      }
      finish(Status.DEADLINE_EXCEEDED, 0);
    }

    void finish(Status status, long pauseNanos) {
      if (done) {
        return;
      }
      done = true;
      if (deadlineTimer != null) {
        deadlineTimer.cancel(false);
      }
      if (context != null) {
        context.cancel(null);
      }
      sim.recorder().finished(status);
      caller.next(pauseNanos);
    }
  }

  /** One attempt on one connection. */
  static final class Attempt {
    final Call call;
    final SimConnection connection;
    final ClientStreamTracer tracer;
    private ScheduledFuture<?> answer;
    boolean closed;

    Attempt(Call call, SimConnection connection, ClientStreamTracer tracer) {
      this.call = call;
      this.connection = connection;
      this.tracer = tracer;
    }

    void send() {
      FleetSim sim = call.sim;
      SimPod pod = connection.pod;
      tracer.outboundHeaders();
      tracer.outboundMessage(0);
      tracer.outboundMessageSent(0, -1, -1);
      connection.inFlight.add(this);
      sim.recorder().picked(pod);
      LatencyModel model = pod.model;
      long delay =
          pod.reach == SimPod.Reach.SERVING
              ? model.delayNanos(pod.latency, pod.servedSinceStart++)
              : LatencyModel.NEVER;
      if (delay != LatencyModel.NEVER) {
        answer = sim.schedule(delay, () -> answered(model.status()));
      }
    }

    private void answered(Status status) {
      SimPod pod = connection.pod;
      if (closed || pod.reach != SimPod.Reach.SERVING || !pod.model.answers()) {
        return; // the pod stopped answering meanwhile: the deadline (if any) ends the call
      }
      closed = true;
      connection.inFlight.remove(this);
      Metadata trailers = new Metadata();
      if (status.isOk()) {
        tracer.inboundHeaders();
        tracer.inboundMessage(0);
        tracer.inboundMessageRead(0, -1, -1);
      }
      tracer.inboundTrailers(trailers);
      tracer.streamClosed(status);
      call.finish(status, status.isOk() ? 0 : call.sim.failurePauseNanos());
    }

    /** The client ends the attempt (deadline): the tracer closes with {@code status}. */
    void close(Status status) {
      closed = true;
      connection.inFlight.remove(this);
      if (answer != null) {
        answer.cancel(false);
      }
      tracer.streamClosed(status);
    }

    /** The connection broke under it. */
    void reset(Status status) {
      if (closed) {
        return;
      }
      close(status);
      call.finish(status, call.sim.failurePauseNanos());
    }
  }
}
