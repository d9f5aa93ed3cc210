package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ChannelLogger;
import io.grpc.ChannelLogger.ChannelLogLevel;
import java.time.Duration;
import javax.annotation.Nullable;

/**
 * The client's index and the client count for deterministic subsetting, from its own Service: a
 * shared watch of that Service's EndpointSlices and this pod's {@link ClientPosition} among its
 * pods, with the channel log notes that explain it (each once). Used by one resolver in its
 * SynchronizationContext; the watch calls {@code onChange} on the informer's thread.
 */
final class ClientIndexWatch implements AutoCloseable {
  /**
   * The client's own Service and how to find this pod among its endpoints.
   *
   * @param podName matched against the endpoints' {@code targetRef.name}; null: by IP only
   * @param podIp matched against the endpoints' addresses; null: by name only
   */
  record ClientPod(
      String namespace, String service, @Nullable String podName, @Nullable String podIp) {
    String describe() {
      return podName == null
          ? "IP " + podIp
          : podIp == null ? "pod " + podName : "pod " + podName + ", IP " + podIp;
    }
  }

  private final ClientPod pod;
  private final ChannelLogger logger;
  private final ServiceWatches.Subscription watch;
  @Nullable private ClientPosition position; // null: not computed yet
  @Nullable private String lastNote;

  ClientIndexWatch(
      ServiceWatches watches,
      KubernetesClient client,
      ClientPod pod,
      Duration grace,
      ChannelLogger logger,
      Runnable onChange) {
    this.pod = pod;
    this.logger = logger;
    this.watch = watches.subscribe(client, pod.namespace(), pod.service(), grace, onChange);
  }

  /**
   * True while the first result should wait for this watch: its first list has not completed and
   * has not failed either.
   */
  boolean listing() {
    return !watch.synced() && watch.lastError() == null;
  }

  /** Increases whenever the position or the count may have changed. */
  long generation() {
    return watch.generation();
  }

  void retryIfFailed() {
    watch.retryIfFailed();
  }

  /**
   * This pod's position among the pods of its own Service and their count, or null when unknown
   * (not listed yet, or not among them); the last position found while the watch fails.
   */
  @Nullable
  ClientPosition position() {
    Throwable error = watch.lastError();
    if (error != null) {
      note(
          ChannelLogLevel.WARNING,
          "no client index from the client's own Service: "
              + WatchErrors.describe(error, pod.namespace(), pod.service(), watch.apiServer())
              + (position != null && position.found()
                  ? "; keeping client index " + position.index()
                  : ""));
    }
    if (!watch.synced()) {
      return position != null && position.found() ? position : null;
    }
    ClientPosition now = ClientPosition.find(watch.slices(), pod.podName(), pod.podIp());
    boolean wasFound = position == null || position.found();
    if (now.found() && !now.equals(position)) {
      note(
          ChannelLogLevel.DEBUG,
          "client index "
              + now.index()
              + ": the position of this pod among the "
              + now.count()
              + " pods of "
              + service());
    } else if (!now.found() && wasFound) {
      note(
          ChannelLogLevel.INFO,
          "this pod ("
              + pod.describe()
              + ") is not among the pods the EndpointSlices of "
              + service()
              + " list (not yet, or another Service?): no client index from the resolver;"
              + " subsetting falls back to the pod-name ordinal or a host-name hash");
    }
    position = now;
    return now.found() ? now : null;
  }

  /** The first-answer timer fired while this watch was still listing. */
  void noAnswerWithin(Duration timeout) {
    note(
        ChannelLogLevel.WARNING,
        "no answer within "
            + timeout.toSeconds()
            + " s to the list of EndpointSlices of "
            + service()
            + " (the client's own Service): publishing without a client index");
  }

  @Override
  public void close() {
    watch.close();
  }

  private String service() {
    return pod.namespace() + "/" + pod.service();
  }

  /** Logs a note once, until a different one replaces it. */
  private void note(ChannelLogLevel level, String note) {
    if (!note.equals(lastNote)) {
      lastNote = note;
      logger.log(level, "{0}", note);
    }
  }
}
