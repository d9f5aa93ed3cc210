package io.github.kubegrpclb.dns;

import io.github.kubegrpclb.dns.HeadlessDnsOptions.AddressFamily;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;
import org.xbill.DNS.lookup.LookupSession;
import org.xbill.DNS.lookup.NoSuchDomainException;
import org.xbill.DNS.lookup.NoSuchRRSetException;

/**
 * Asks DNS for the pod addresses behind a headless Service, asynchronously (dnsjava's
 * LookupSession, which follows the search path, ndots and CNAMEs, and retries truncated UDP answers
 * over TCP). A numeric port: A/AAAA of the host. A port name: the SRV records {@code
 * _<name>._tcp.<host>}, whose targets are resolved to addresses and whose ports are the pods'.
 *
 * <p>Thread-safe; no state beyond the session.
 */
final class DnsLookup {
  private final LookupSession session;

  DnsLookup(LookupSession session) {
    this.session = session;
  }

  /** Pod addresses and the smallest TTL seen, or a failure (see {@link #isNotFound}). */
  record Answer(List<InetSocketAddress> addresses, long minTtlSeconds) {}

  CompletionStage<Answer> resolve(HeadlessTarget target) {
    Name host = name(target.host);
    if (target.portName == null) {
      return addresses(host, target.family)
          .thenApply(records -> toAnswer(records, target.port, Long.MAX_VALUE));
    }
    Name srv = name("_" + target.portName + "._tcp." + target.host);
    return records(srv, Type.SRV).thenCompose(srvRecords -> resolveSrv(srvRecords, target));
  }

  /** Whether a failure means the name or record type does not exist (an authoritative answer). */
  static boolean isNotFound(Throwable error) {
    Throwable cause = unwrap(error);
    return cause instanceof NoSuchDomainException || cause instanceof NoSuchRRSetException;
  }

  static Throwable unwrap(Throwable error) {
    return error instanceof CompletionException && error.getCause() != null
        ? error.getCause()
        : error;
  }

  private CompletionStage<Answer> resolveSrv(List<Record> srvRecords, HeadlessTarget target) {
    List<CompletableFuture<Answer>> perTarget = new ArrayList<>();
    long srvTtl = Long.MAX_VALUE;
    for (Record record : srvRecords) {
      if (record instanceof SRVRecord srv) {
        srvTtl = Math.min(srvTtl, srv.getTTL());
        perTarget.add(
            addresses(srv.getTarget(), target.family)
                .thenApply(records -> toAnswer(records, srv.getPort(), Long.MAX_VALUE))
                .toCompletableFuture());
      }
    }
    long ttl = srvTtl;
    return CompletableFuture.allOf(perTarget.toArray(new CompletableFuture<?>[0]))
        .thenApply(
            done -> {
              Set<InetSocketAddress> all = new LinkedHashSet<>();
              long min = ttl;
              for (CompletableFuture<Answer> future : perTarget) {
                Answer answer = future.join();
                all.addAll(answer.addresses());
                min = Math.min(min, answer.minTtlSeconds());
              }
              return new Answer(sorted(all), min);
            });
  }

  /** A/AAAA records of {@code host} for {@code family}. */
  private CompletionStage<List<Record>> addresses(Name host, AddressFamily family) {
    switch (family) {
      case IPV4:
        return records(host, Type.A);
      case IPV6:
        return records(host, Type.AAAA);
      case BOTH:
        return records(host, Type.A)
            .exceptionally(error -> emptyIfNoData(error))
            .thenCombine(
                records(host, Type.AAAA).exceptionally(error -> emptyIfNoData(error)),
                (v4, v6) -> {
                  List<Record> both = new ArrayList<>(v4);
                  both.addAll(v6);
                  if (both.isEmpty()) {
                    throw new CompletionException(new NoSuchDomainException(host, Type.A));
                  }
                  return both;
                });
      case AUTO:
      default:
        return records(host, Type.A)
            .handle(
                (v4, error) -> {
                  if (error == null) {
                    return CompletableFuture.completedFuture(v4);
                  }
                  if (isNotFound(error)) {
                    // No A record (the search path may turn NODATA into NXDOMAIN): try AAAA,
                    // and report the A lookup's error if that finds nothing either.
                    return records(host, Type.AAAA)
                        .exceptionally(
                            v6Error -> {
                              throw new CompletionException(unwrap(error));
                            });
                  }
                  return CompletableFuture.<List<Record>>failedFuture(unwrap(error));
                })
            .thenCompose(stage -> stage);
    }
  }

  private static List<Record> emptyIfNoData(Throwable error) {
    if (isNotFound(error)) {
      return List.of();
    }
    throw error instanceof CompletionException completion
        ? completion
        : new CompletionException(error);
  }

  /** Records of {@code type}; an answer without one fails with NoSuchRRSetException (NODATA). */
  private CompletionStage<List<Record>> records(Name host, int type) {
    return session
        .lookupAsync(host, type)
        .thenApply(
            result -> {
              List<Record> matching = new ArrayList<>();
              for (Record record : result.getRecords()) {
                if (record.getType() == type) {
                  matching.add(record);
                }
              }
              if (matching.isEmpty()) {
                throw new CompletionException(new NoSuchRRSetException(host, type));
              }
              return matching;
            });
  }

  private static Answer toAnswer(List<Record> records, int port, long ttl) {
    Set<InetSocketAddress> addresses = new LinkedHashSet<>();
    long min = ttl;
    for (Record record : records) {
      InetAddress address = null;
      if (record instanceof ARecord a) {
        address = a.getAddress();
      } else if (record instanceof AAAARecord aaaa) {
        address = aaaa.getAddress();
      }
      if (address != null) {
        addresses.add(new InetSocketAddress(address, port));
        min = Math.min(min, record.getTTL());
      }
    }
    return new Answer(sorted(addresses), min);
  }

  private static List<InetSocketAddress> sorted(Set<InetSocketAddress> addresses) {
    List<InetSocketAddress> list = new ArrayList<>(addresses);
    list.sort(
        Comparator.comparing((InetSocketAddress a) -> a.getAddress().getHostAddress())
            .thenComparingInt(InetSocketAddress::getPort));
    return List.copyOf(list);
  }

  private static Name name(String host) {
    try {
      return Name.fromString(host);
    } catch (TextParseException e) {
      throw new IllegalArgumentException("host: " + host, e);
    }
  }
}
