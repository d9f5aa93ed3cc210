package io.github.kubegrpclb.sharding;

import io.grpc.ConnectivityState;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * A channel's connectivity state and its one-shot change callbacks, with the semantics of
 * grpc-java's own channel: a callback registered for a state other than the current one runs at
 * once; the others run, each on its executor, at the next change; nothing leaves SHUTDOWN.
 *
 * <p>Not thread-safe: confine writes to one synchronization context; {@link #state} may be read
 * from any thread.
 */
final class ChannelStateNotifier {
  private volatile ConnectivityState state;
  private List<Listener> listeners = new ArrayList<>();

  ChannelStateNotifier(ConnectivityState initial) {
    this.state = initial;
  }

  ConnectivityState state() {
    return state;
  }

  void notifyWhenStateChanged(ConnectivityState source, Runnable callback, Executor executor) {
    Listener listener = new Listener(callback, executor);
    if (state != source) {
      listener.run();
    } else {
      listeners.add(listener);
    }
  }

  void gotoState(ConnectivityState next) {
    if (state == next || state == ConnectivityState.SHUTDOWN) {
      return;
    }
    state = next;
    // Swap first: a callback running on a direct executor may register again.
    List<Listener> due = listeners;
    listeners = new ArrayList<>();
    for (Listener listener : due) {
      listener.run();
    }
  }

  private record Listener(Runnable callback, Executor executor) {
    void run() {
      executor.execute(callback);
    }
  }
}
