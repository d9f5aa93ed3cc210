package io.github.kubegrpclb.dns;

import io.github.kubegrpclb.core.internal.ResolverTelemetry;
import org.xbill.DNS.lookup.LookupFailedException;
import org.xbill.DNS.lookup.NoSuchDomainException;
import org.xbill.DNS.lookup.NoSuchRRSetException;
import org.xbill.DNS.lookup.ServerFailedException;

/**
 * What a DNS failure means, in words a user can act on, and its kind for the resolver error
 * counter. Stateless.
 */
final class DnsErrors {
  private DnsErrors() {}

  /** The kind of a DNS failure, for the resolver error counter. */
  static String kind(Throwable cause) {
    if (cause instanceof NoSuchDomainException) {
      return ResolverTelemetry.DNS_NXDOMAIN;
    }
    if (cause instanceof NoSuchRRSetException) {
      return ResolverTelemetry.DNS_NODATA;
    }
    if (cause instanceof ServerFailedException) {
      return ResolverTelemetry.DNS_SERVFAIL;
    }
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof java.util.concurrent.TimeoutException
          || t instanceof java.net.SocketTimeoutException
          || (t.getMessage() != null && t.getMessage().contains("Timed out"))) {
        return ResolverTelemetry.DNS_TIMEOUT;
      }
    }
    return ResolverTelemetry.OTHER;
  }

  /** The failure in one line: what the server said and what it means. */
  static String describe(Throwable error) {
    Throwable cause = DnsLookup.unwrap(error);
    if (cause instanceof NoSuchDomainException) {
      return "NXDOMAIN, the DNS server has no such name";
    }
    if (cause instanceof NoSuchRRSetException) {
      return "NODATA, the name has no record of the type asked for";
    }
    if (isRefused(cause)) {
      return "REFUSED, the DNS server will not answer for this name: it does not serve the zone"
          + " and refuses recursion to this client (use the cluster DNS, the nameserver of the"
          + " pod's /etc/resolv.conf, or allow this client to query that server)";
    }
    String message = cause.getMessage();
    return cause.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }

  /**
   * Whether the server answered REFUSED: dnsjava reports it only as a LookupFailedException whose
   * message names the rcode. A known condition, explained by {@link #describe}: no stack trace.
   */
  static boolean isRefused(Throwable error) {
    Throwable cause = DnsLookup.unwrap(error);
    return cause instanceof LookupFailedException
        && cause.getMessage() != null
        && cause.getMessage().endsWith("REFUSED");
  }
}
