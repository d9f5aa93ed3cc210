/**
 * A gRPC name resolver for Kubernetes headless Services over DNS ({@code headless:///}): one
 * address per ready pod from A/AAAA records, pod ports from SRV records for named ports,
 * re-resolved on the records' TTL and whenever a connection fails.
 *
 * <p>Public: {@link io.github.kubegrpclb.dns.HeadlessDnsNameResolverProvider} (registers the
 * scheme) and {@link io.github.kubegrpclb.dns.HeadlessDnsOptions} (per-channel options). Everything
 * else is package-private; a map, in reading order:
 *
 * <ol>
 *   <li>{@code HeadlessDnsNameResolverProvider} parses the target ({@code HeadlessTarget}) and
 *       builds one resolver per channel with its lookup, clock and observer.
 *   <li>{@code HeadlessDnsNameResolver}: the refresh cycle (TTL, re-resolution on failure, backoff,
 *       last good addresses kept), the publication of address groups and the policy's service
 *       config; {@code TargetOutcomes} merges the SRV targets' outcomes of one answer; {@code
 *       ClusterIpCheck} notices a ClusterIP Service given by mistake.
 *   <li>The lookup: {@code DnsLookup} (A/AAAA or SRV through dnsjava's LookupSession; {@code
 *       BoundedInFlight} bounds the SRV targets' lookups in flight) over {@code
 *       WholeAnswerResolver} (keeps SRV answers' additional A/AAAA records), {@code
 *       TcpFallbackResolver} (UDP, then TCP when truncated) and {@code SystemNameservers} ({@code
 *       /etc/resolv.conf}, each server in turn).
 *   <li>{@code DnsErrors}: what a DNS failure means, in the channel log and the error counter.
 * </ol>
 */
package io.github.kubegrpclb.dns;
