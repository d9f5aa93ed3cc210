package io.github.kubegrpclb.dns;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import javax.annotation.Nullable;
import org.xbill.DNS.Name;

/**
 * One DNS answer's targets merged into the addresses to publish, with what went wrong on the way.
 * Immutable; built and read in the resolver's SynchronizationContext.
 *
 * @param known the addresses of each target that gave some, to keep if it later fails transiently
 * @param addresses every target address with every port of its target
 * @param problems one line per rejected SRV record or unusable target
 * @param firstTransient the first transient failure of a target, or null when none failed so
 * @param records how many SRV records the answer had (targets and rejected ones)
 */
/*
 * Issue #10: a resolved target gives its addresses; one that does not exist (NXDOMAIN/NODATA: an SRV
 * answer cached longer than the A record of a deleted pod) is dropped; one that failed transiently
 * keeps its last known addresses. Only when nothing is left and something failed transiently is the
 * whole resolution a failure (the resolver then keeps its last set).
 */
record TargetOutcomes(
    Map<Name, List<InetAddress>> known,
    Set<InetSocketAddress> addresses,
    List<String> problems,
    @Nullable Throwable firstTransient,
    int records) {
  private static final int MAX_PROBLEMS_NOTED = 3;

  /** Merges {@code answer}'s targets; {@code lastKnown} are each target's last addresses. */
  static TargetOutcomes merge(DnsLookup.Answer answer, Map<Name, List<InetAddress>> lastKnown) {
    Map<Name, List<InetAddress>> known = new HashMap<>();
    Set<InetSocketAddress> addresses = new HashSet<>();
    List<String> problems = new ArrayList<>(answer.rejected());
    Throwable firstTransient = null;
    for (DnsLookup.Target t : answer.targets()) {
      List<InetAddress> ips;
      Throwable error = t.error();
      if (error == null) {
        ips = Objects.requireNonNull(t.addresses(), "addresses of a successful lookup");
      } else if (DnsLookup.isNotFound(error)) {
        ips = List.of();
        problems.add(t.host() + ": " + DnsErrors.describe(error) + ", dropped");
      } else {
        ips = lastKnown.getOrDefault(t.host(), List.of());
        firstTransient = firstTransient == null ? error : firstTransient;
        problems.add(
            t.host()
                + ": "
                + DnsErrors.describe(error)
                + (ips.isEmpty() ? "" : ", keeping its last " + ips.size() + " address(es)"));
      }
      if (!ips.isEmpty()) {
        known.put(t.host(), ips);
      }
      for (InetAddress ip : ips) {
        for (int port : t.ports()) {
          addresses.add(new InetSocketAddress(ip, port));
        }
      }
    }
    return new TargetOutcomes(
        known,
        addresses,
        problems,
        firstTransient,
        answer.rejected().size() + answer.targets().size());
  }

  /** A note on what went wrong with some SRV records or targets, or null when nothing did. */
  @Nullable
  String summary(String queriedName) {
    if (problems.isEmpty()) {
      return null;
    }
    StringBuilder note =
        new StringBuilder(queriedName)
            .append(": ")
            .append(problems.size())
            .append(" of ")
            .append(records)
            .append(" SRV targets unusable: ");
    for (int i = 0; i < Math.min(problems.size(), MAX_PROBLEMS_NOTED); i++) {
      note.append(i == 0 ? "" : "; ").append(problems.get(i));
    }
    if (problems.size() > MAX_PROBLEMS_NOTED) {
      note.append("; and ").append(problems.size() - MAX_PROBLEMS_NOTED).append(" more");
    }
    return note.toString();
  }
}
