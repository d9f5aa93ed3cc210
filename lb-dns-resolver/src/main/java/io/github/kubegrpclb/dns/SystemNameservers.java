package io.github.kubegrpclb.dns;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.xbill.DNS.ExtendedResolver;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.SimpleResolver;

/**
 * The nameservers of {@code /etc/resolv.conf} (or dnsjava's {@code dns.server} property), asked in
 * turn: {@link #setTimeout} is the timeout of one query to one server, so a dead first server costs
 * one timeout and the next server answers within the same resolution.
 *
 * <p>dnsjava's ExtendedResolver keeps its own 5 s timeout per server and takes {@code setTimeout}
 * as the deadline of the whole resolution: with a 2 s deadline, a dead first server used it all up
 * and the second was never asked (issue 22). ExtendedResolver also tries first the servers that
 * failed least, so once a server is known dead it is asked last.
 *
 * <p>Thread-safe once configured, as ExtendedResolver.
 */
final class SystemNameservers extends ExtendedResolver {
  /** Attempts per server in one resolution. */
  static final int ATTEMPTS_PER_SERVER = 2;

  private final List<Resolver> servers;

  private SystemNameservers(List<Resolver> servers) {
    super(servers);
    this.servers = List.copyOf(servers);
    setRetries(ATTEMPTS_PER_SERVER);
  }

  /** A resolver asking {@code servers} in turn. */
  static SystemNameservers of(List<InetSocketAddress> servers) {
    if (servers.isEmpty()) {
      throw new IllegalArgumentException(
          "no DNS server configured (expected: a nameserver line in /etc/resolv.conf, or a DNS"
              + " server in the target: headless://10.96.0.10/<host>:<port>)");
    }
    List<Resolver> resolvers = new ArrayList<>(servers.size());
    for (InetSocketAddress server : servers) {
      resolvers.add(new SimpleResolver(server));
    }
    return new SystemNameservers(resolvers);
  }

  /** Sets the timeout of one query to one server; the resolution may try each server in turn. */
  @Override
  public void setTimeout(Duration timeout) {
    for (Resolver server : servers) {
      server.setTimeout(timeout);
    }
    super.setTimeout(timeout.multipliedBy((long) servers.size() * ATTEMPTS_PER_SERVER));
  }
}
