/**
 * A gRPC name resolver for Kubernetes headless Services over DNS ({@code headless:///}): one
 * address per ready pod from A/AAAA records, pod ports from SRV records for named ports,
 * re-resolved on the records' TTL and whenever a connection fails. See {@link
 * io.github.kubegrpclb.dns.HeadlessDnsNameResolverProvider}.
 */
package io.github.kubegrpclb.dns;
