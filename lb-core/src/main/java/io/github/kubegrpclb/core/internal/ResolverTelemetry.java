package io.github.kubegrpclb.core.internal;

/**
 * Records what one name resolver does: updates published and how long after the watch event or DNS
 * answer that caused them, errors by kind, and (through the supplier it was created with) the age
 * of its last good resolution. Called in the resolver's SynchronizationContext.
 */
public interface ResolverTelemetry {
  /** The API server refused the service account (403): a missing RBAC rule. */
  String RBAC = "rbac";

  /** The API server rejected the credentials (401). */
  String UNAUTHORIZED = "unauthorized";

  /** The API server could not be reached or answered with a server error. */
  String API_UNREACHABLE = "api_unreachable";

  /** The watch ended and was started again (a relist, e.g. after 410 Gone). */
  String WATCH_RESTARTED = "watch_restarted";

  /** The endpoints read could not be used (e.g. the port is missing from the slices). */
  String INVALID_ENDPOINTS = "invalid_endpoints";

  /** DNS: the server failed (SERVFAIL, REFUSED and other error codes). */
  String DNS_SERVFAIL = "servfail";

  /** DNS: the name does not exist. */
  String DNS_NXDOMAIN = "nxdomain";

  /** DNS: the name exists without the record type asked for. */
  String DNS_NODATA = "nodata";

  /** DNS: no answer in time. */
  String DNS_TIMEOUT = "timeout";

  /** DNS: the UDP answer was truncated and the query was repeated over TCP (not a failure). */
  String DNS_TCP_FALLBACK = "tcp_fallback";

  /** Any other failure. */
  String OTHER = "other";

  /** Records nothing. */
  ResolverTelemetry NOOP =
      new ResolverTelemetry() {
        @Override
        public void published(int endpoints, long lagNanos) {}

        @Override
        public void error(String kind) {}

        @Override
        public void close() {}
      };

  /**
   * The resolver published {@code endpoints} endpoints to the channel, {@code lagNanos} after the
   * watch event or DNS answer that caused it (negative when there was none, e.g. a refresh).
   */
  void published(int endpoints, long lagNanos);

  /** A resolution or watch failed with one of the kinds above. */
  void error(String kind);

  /** The resolver shut down: stops its gauges. */
  void close();
}
