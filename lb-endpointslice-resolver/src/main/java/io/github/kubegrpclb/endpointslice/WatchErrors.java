package io.github.kubegrpclb.endpointslice;

import io.fabric8.kubernetes.client.KubernetesClientException;
import io.github.kubegrpclb.core.internal.ResolverObserver;
import io.github.kubegrpclb.core.internal.ResolverTelemetry;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.util.logging.Level;
import javax.annotation.Nullable;

/**
 * Turns the failures of an EndpointSlice watch into what people read and what telemetry counts: a
 * one-line message naming the Service, the API server and the fix ({@link #describe}), the cause
 * with its stack trace once per distinct failure at FINE on {@link
 * EndpointSliceNameResolver#CAUSES}, and one count per failure by kind. An instance belongs to one
 * resolver and is used only in that resolver's SynchronizationContext; the static methods are pure
 * and safe from any thread.
 */
final class WatchErrors {
  private final String namespace;
  private final String service;
  private final ResolverObserver observer;
  @Nullable private Throwable lastErrorCounted;
  @Nullable private String lastCauseLogged; // the last failure whose cause went to CAUSES

  /**
   * For the watch of the EndpointSlices of {@code namespace/service}, counted by {@code observer}.
   */
  WatchErrors(String namespace, String service, ResolverObserver observer) {
    this.namespace = namespace;
    this.service = service;
    this.observer = observer;
  }

  /** Counts each failure the watch reports once, by kind; a null error (no failure) is ignored. */
  void count(@Nullable Throwable error, String apiServer) {
    if (error == null || error == lastErrorCounted) {
      return;
    }
    lastErrorCounted = error;
    // The statuses carry describe(error) but not the error: grpc-java logs a resolution status at
    // WARNING with its cause's whole stack trace (30-40 fabric8 lines) on every retry. The cause
    // is here once per distinct failure (a relist fails with a new exception and the same
    // message), at FINE, for whoever needs it.
    String description = describe(error, apiServer);
    if (!description.equals(lastCauseLogged)) {
      lastCauseLogged = description;
      EndpointSliceNameResolver.CAUSES.log(
          Level.FINE, "kubernetes:///" + namespace + "/" + service + ": " + description, error);
    }
    int code = httpCode(error);
    String kind =
        code == 403
            ? ResolverTelemetry.RBAC
            : code == 401
                ? ResolverTelemetry.UNAUTHORIZED
                : code == 410
                    ? ResolverTelemetry.WATCH_RESTARTED
                    : ResolverTelemetry.API_UNREACHABLE;
    observer.failed(kind, description);
  }

  /** What went wrong watching this resolver's EndpointSlices through {@code apiServer}. */
  String describe(Throwable error, String apiServer) {
    return describe(error, namespace, service, apiServer);
  }

  /** What went wrong watching the EndpointSlices of namespace/service, and what to do. */
  static String describe(Throwable error, String namespace, String service, String apiServer) {
    String watched = namespace + "/" + service;
    int code = httpCode(error);
    if (code == 403) {
      return "watching EndpointSlices of "
          + watched
          + " was refused (403 Forbidden): the service account needs get, list and watch on"
          + " endpointslices.discovery.k8s.io in namespace "
          + namespace
          + " (a Role and RoleBinding: see examples/k8s/rbac.yaml)";
    }
    if (code == 401) {
      return "watching EndpointSlices of "
          + watched
          + " was refused (401 Unauthorized): the API server rejected the client's credentials"
          + " (service-account token or kubeconfig)";
    }
    return "watching EndpointSlices of "
        + watched
        + " through the Kubernetes API server at "
        + apiServer
        + " failed: "
        + causes(error);
  }

  /**
   * The exception chain in a line, without the wrappers that only repeat their cause (e.g.
   * "ConnectException &lt;- ClosedChannelException"), plus a hint for connection failures.
   */
  static String causes(Throwable error) {
    StringBuilder text = new StringBuilder();
    boolean connectFailure = false;
    int depth = 0;
    for (Throwable t = error; t != null && depth < 8; t = t.getCause(), depth++) {
      connectFailure |= t instanceof ConnectException || t instanceof HttpConnectTimeoutException;
      String message = t.getMessage();
      boolean wrapper = t.getCause() != null && String.valueOf(t.getCause()).equals(message);
      if (wrapper) {
        continue; // its cause says it better
      }
      if (text.length() > 0) {
        text.append(" <- ");
      }
      text.append(t.getClass().getSimpleName());
      if (message != null) {
        text.append(": ").append(message);
      }
    }
    if (connectFailure) {
      text.append(
          " (cannot connect: is the API server up, and is its address right? In a pod it comes"
              + " from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, elsewhere from the"
              + " kubeconfig)");
    }
    return text.toString();
  }

  /** The HTTP status of the first API error in the chain; 0 when there is none. */
  private static int httpCode(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (t instanceof KubernetesClientException clientError && clientError.getCode() != 0) {
        return clientError.getCode();
      }
    }
    return 0;
  }
}
