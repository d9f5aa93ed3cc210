package io.github.kubegrpclb.dns;

import io.github.kubegrpclb.dns.HeadlessDnsOptions.AddressFamily;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import javax.annotation.Nullable;
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
 * _<name>._tcp.<host>}, whose ports are the pods' and whose targets are resolved one by one, each
 * with its own outcome, from the answer's additional section when it carries their addresses.
 *
 * <p>Thread-safe; no state beyond the session and the answers its resolver keeps between a query
 * and its reading.
 */
final class DnsLookup {
  /**
   * The most A/AAAA queries for SRV targets in flight at once, per resolution ({@link
   * BoundedInFlight}).
   */
  static final int MAX_QUERIES_IN_FLIGHT = 32;

  private final TcpFallbackResolver transport;
  private final WholeAnswerResolver resolver;
  private final LookupSession session;

  /**
   * A lookup through {@code resolver}, with the search path and ndots of {@code session} (whose
   * resolver, executor and caches this replaces: every answer comes fresh from the server).
   *
   * @param executor runs dnsjava's completion stages; without one, CompletableFuture starts a new
   *     thread per stage on machines with fewer than 3 cores (5 to 10 times slower here)
   */
  DnsLookup(
      TcpFallbackResolver resolver, LookupSession.LookupSessionBuilder session, Executor executor) {
    this.transport = resolver;
    this.resolver = new WholeAnswerResolver(resolver);
    this.session = session.resolver(this.resolver).executor(executor).clearCaches().build();
  }

  /**
   * What DNS said: for a numeric port, one target (the host); for a port name, one per distinct SRV
   * target, plus the SRV records that were unusable. Immutable.
   *
   * @param targets the hosts and their outcomes
   * @param rejected the unusable SRV records, each with its reason
   * @param minTtlSeconds the smallest TTL of the host's or SRV name's own records
   * @param srvNamesTheService an SRV record's target is the Service's own name, as for a ClusterIP
   *     Service (a headless Service's SRV records name its pods)
   */
  record Answer(
      List<Target> targets,
      List<String> rejected,
      long minTtlSeconds,
      boolean srvNamesTheService) {}

  /**
   * One host and its ports, with its addresses or the error of its A/AAAA lookup. Immutable.
   *
   * @param host the host (an SRV target, or the target's host for a numeric port)
   * @param ports its ports
   * @param addresses its addresses; null when the lookup failed
   * @param error the lookup's error; null when it succeeded
   * @param ttlSeconds the smallest TTL of its records; Long.MAX_VALUE when it failed
   */
  record Target(
      Name host,
      List<Integer> ports,
      @Nullable List<InetAddress> addresses,
      @Nullable Throwable error,
      long ttlSeconds) {}

  /**
   * Returns and resets the smallest negative-caching TTL (RFC 2308: the SOA record's TTL or its
   * minimum field, whichever is smaller) of the negative answers since the last call;
   * Long.MAX_VALUE when none carried an SOA record.
   */
  long takeNegativeTtlSeconds() {
    return resolver.takeNegativeTtl();
  }

  /** Returns and resets the number of queries repeated over TCP after a truncated UDP answer. */
  long takeTcpFallbacks() {
    return transport.takeFallbacks();
  }

  /**
   * Resolves {@code target}. The stage fails when the host's (numeric port) or the SRV name's (port
   * name) own lookup fails; a failed SRV target is reported in its {@link Target}.
   */
  CompletionStage<Answer> resolve(HeadlessTarget target) {
    Name host = name(target.host);
    if (target.portName == null) {
      return addresses(host, target.family)
          .thenApply(
              records ->
                  new Answer(
                      List.of(
                          new Target(
                              host,
                              List.of(target.port),
                              addressesOf(records),
                              null,
                              minTtl(records, Long.MAX_VALUE))),
                      List.of(),
                      minTtl(records, Long.MAX_VALUE),
                      false));
    }
    Name srv = name("_" + target.portName + "._tcp." + target.host);
    return lookup(srv, Type.SRV).thenCompose(answer -> resolveSrv(answer, target));
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

  private CompletionStage<Answer> resolveSrv(
      WholeAnswerResolver.Kept answer, HeadlessTarget target) {
    Map<Name, Set<Integer>> portsByHost = new LinkedHashMap<>();
    List<String> rejected = new ArrayList<>();
    long srvTtl = Long.MAX_VALUE;
    boolean namesTheService = false;
    for (Record record : answer.records) {
      SRVRecord srv = (SRVRecord) record;
      srvTtl = Math.min(srvTtl, srv.getTTL());
      // _<port>._tcp.<service>: the target of a ClusterIP Service's record is <service> itself.
      namesTheService |=
          srv.getName().labels() > 2 && srv.getTarget().equals(new Name(srv.getName(), 2));
      if (srv.getTarget().equals(Name.root)) {
        rejected.add(srv.getName() + " SRV target \".\": the service is not available there");
      } else if (srv.getPort() == 0) {
        rejected.add(
            srv.getName() + " SRV port 0 for " + srv.getTarget() + " (expected: 1..65535)");
      } else {
        portsByHost.computeIfAbsent(srv.getTarget(), h -> new TreeSet<>()).add(srv.getPort());
      }
    }
    Map<Name, List<Record>> glue = new HashMap<>();
    for (Record record : answer.additional) {
      glue.computeIfAbsent(record.getName(), n -> new ArrayList<>()).add(record);
    }
    List<Supplier<CompletionStage<Target>>> lookups = new ArrayList<>();
    for (Map.Entry<Name, Set<Integer>> entry : portsByHost.entrySet()) {
      Name host = entry.getKey();
      List<Integer> ports = List.copyOf(entry.getValue());
      List<Record> known = usable(glue.getOrDefault(host, List.of()), target.family);
      lookups.add(
          () ->
              addressesOrGlue(host, target.family, known)
                  .handle(
                      (found, error) ->
                          error != null
                              ? new Target(host, ports, null, unwrap(error), Long.MAX_VALUE)
                              : new Target(
                                  host,
                                  ports,
                                  addressesOf(found),
                                  null,
                                  minTtl(found, Long.MAX_VALUE))));
    }
    long ttl = srvTtl;
    boolean clusterIp = namesTheService;
    return BoundedInFlight.run(lookups, MAX_QUERIES_IN_FLIGHT)
        .thenApply(
            targets -> {
              long min = ttl;
              for (Target t : targets) {
                min = Math.min(min, t.ttlSeconds());
              }
              return new Answer(targets, List.copyOf(rejected), min, clusterIp);
            });
  }

  private CompletionStage<List<Record>> addressesOrGlue(
      Name host, AddressFamily family, List<Record> glue) {
    if (!glue.isEmpty()) {
      return CompletableFuture.completedFuture(glue);
    }
    try {
      return addresses(host, family);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e); // reported as this target's failure
    }
  }

  /**
   * The additional-section records to use for {@code family}, or none to query: {@code auto} takes
   * the A records, or the AAAA records when the section has no A record for the host.
   */
  private static List<Record> usable(List<Record> glue, AddressFamily family) {
    List<Record> v4 = new ArrayList<>();
    List<Record> v6 = new ArrayList<>();
    for (Record record : glue) {
      (record.getType() == Type.A ? v4 : v6).add(record);
    }
    switch (family) {
      case IPV4:
        return v4;
      case IPV6:
        return v6;
      case BOTH:
        return glue;
      case AUTO:
      default:
        return v4.isEmpty() ? v6 : v4;
    }
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
                    // No A record (the search path may turn NODATA into NXDOMAIN): try AAAA.
                    // If that finds nothing either, report the A lookup's error; if it failed
                    // transiently (a lost answer), report that: the name may well have AAAA
                    // records, and a transient failure keeps the last addresses.
                    return records(host, Type.AAAA)
                        .exceptionally(
                            v6Error -> {
                              throw new CompletionException(
                                  isNotFound(v6Error) ? unwrap(error) : unwrap(v6Error));
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
    return lookup(host, type).thenApply(answer -> answer.records);
  }

  /** The whole answer of {@code type} for {@code host}, after the search path and CNAMEs. */
  private CompletionStage<WholeAnswerResolver.Kept> lookup(Name host, int type) {
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
              WholeAnswerResolver.Kept answer =
                  resolver.take(matching.get(0).getName(), type, matching);
              long aliasTtl = Long.MAX_VALUE;
              for (Name alias : result.getAliases()) {
                aliasTtl = Math.min(aliasTtl, resolver.takeAliasTtl(alias));
              }
              return aliasTtl == Long.MAX_VALUE
                  ? answer
                  : new WholeAnswerResolver.Kept(
                      withTtlAtMost(answer.records, aliasTtl), answer.additional);
            });
  }

  private static List<InetAddress> addressesOf(List<Record> records) {
    Set<InetAddress> addresses = new LinkedHashSet<>();
    for (Record record : records) {
      if (record instanceof ARecord a) {
        addresses.add(a.getAddress());
      } else if (record instanceof AAAARecord aaaa) {
        addresses.add(aaaa.getAddress());
      }
    }
    return List.copyOf(addresses);
  }

  /**
   * Copies of {@code records} whose TTL is at most {@code ttl}: the records behind a CNAME are only
   * as fresh as the alias (an ExternalName Service repointed, say).
   */
  private static List<Record> withTtlAtMost(List<Record> records, long ttl) {
    List<Record> capped = new ArrayList<>(records.size());
    for (Record r : records) {
      capped.add(
          r.getTTL() <= ttl
              ? r
              : Record.newRecord(
                  r.getName(), r.getType(), r.getDClass(), ttl, r.rdataToWireCanonical()));
    }
    return capped;
  }

  private static long minTtl(List<Record> records, long ttl) {
    long min = ttl;
    for (Record record : records) {
      min = Math.min(min, record.getTTL());
    }
    return min;
  }

  private static Name name(String host) {
    try {
      return Name.fromString(host);
    } catch (TextParseException e) {
      throw new IllegalArgumentException("host: " + host, e);
    }
  }
}
