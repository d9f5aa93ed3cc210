package io.github.kubegrpclb.dns;

import io.github.kubegrpclb.core.internal.PolicySelection;
import io.github.kubegrpclb.core.internal.ResolverObserver;
import io.github.kubegrpclb.core.internal.TargetUri;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;
import javax.annotation.Nullable;
import org.xbill.DNS.Name;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.ResolverConfig;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.lookup.LookupSession;

/**
 * Registers the {@code headless} scheme: a gRPC name resolver for Kubernetes headless Services.
 *
 * <pre>
 * headless:///my-svc.my-ns.svc.cluster.local:50051   pod port 50051, A records
 * headless:///my-svc.my-ns.svc.cluster.local:grpc    port name: SRV _grpc._tcp.my-svc...
 * headless:///my-svc:grpc                              short name: resolv.conf search domains
 * headless://10.96.0.10:53/my-svc.my-ns.svc.cluster.local:grpc   a chosen DNS server
 * ...?family=auto|ipv4|ipv6|both                        address records to use (default auto)
 * ...?policy=peak_ewma                                  load-balancing policy (default below)
 * </pre>
 *
 * <p>The port is the pod's port (with a headless Service, clients dial pods directly), or a port
 * name, resolved through the SRV records Kubernetes publishes for every named port of a headless
 * Service. The resolver returns a service config choosing {@code kube_round_robin}, or the policy
 * the target or {@link HeadlessDnsOptions} names; with {@code policy=channel} it returns none, so
 * the channel's {@code defaultServiceConfig} applies. DNS records the resolver expects, as CoreDNS
 * serves them for a headless Service: one A (or AAAA) per ready pod at {@code
 * <svc>.<ns>.svc.<zone>}, and {@code _<port-name>._tcp.<svc>.<ns>.svc.<zone>} SRV records.
 */
public final class HeadlessDnsNameResolverProvider extends NameResolverProvider {

  /** Creates the provider; called by the service loader. */
  public HeadlessDnsNameResolverProvider() {}

  @Override
  protected boolean isAvailable() {
    return true;
  }

  @Override
  protected int priority() {
    return 5;
  }

  @Override
  public String getDefaultScheme() {
    return HeadlessTarget.SCHEME.name();
  }

  @Override
  public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
    return List.of(InetSocketAddress.class);
  }

  @Override
  @Nullable // for another scheme
  public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
    return HeadlessTarget.SCHEME.newNameResolver(targetUri, args, this::create);
  }

  private NameResolver create(TargetUri uri, NameResolver.Args args) {
    HeadlessDnsOptions options = args.getArg(HeadlessDnsOptions.KEY);
    if (options == null) {
      options = HeadlessDnsOptions.defaults();
    }
    HeadlessTarget target = HeadlessTarget.parse(uri, options);
    LongSupplier nanoClock = System::nanoTime;
    return new HeadlessDnsNameResolver(
        target,
        options,
        lookup(target, options, executor(args)),
        PolicySelection.serviceConfig(
            target.policy,
            options.policy(),
            options.policyConfig(),
            options.serviceConfig(),
            "HeadlessDnsOptions.serviceConfig",
            args.getServiceConfigParser()),
        args.getSynchronizationContext(),
        args.getScheduledExecutorService(),
        nanoClock,
        () -> ThreadLocalRandom.current().nextDouble(),
        args.getChannelLogger(),
        new ResolverObserver(options.telemetry(), uri.text(), "headless", nanoClock));
  }

  /** grpc's offload executor (a shared cached pool), as grpc-java's own DNS resolver uses. */
  private static Executor executor(NameResolver.Args args) {
    Executor offload = args.getOffloadExecutor();
    return offload != null ? offload : ForkJoinPool.commonPool();
  }

  private static Resolver newResolver(HeadlessTarget target) {
    if (target.dnsServer != null) {
      return new SimpleResolver(target.dnsServer);
    }
    // The servers of /etc/resolv.conf, each with the query timeout, tried in turn.
    return SystemNameservers.of(ResolverConfig.getCurrentConfig().servers());
  }

  private static DnsLookup lookup(
      HeadlessTarget target, HeadlessDnsOptions options, Executor executor) {
    TcpFallbackResolver resolver =
        new TcpFallbackResolver(newResolver(target), newResolver(target));
    resolver.setTimeout(options.queryTimeout());
    ResolverConfig system = ResolverConfig.getCurrentConfig();
    List<Name> searchPath = new ArrayList<>();
    if (options.searchPath() != null) {
      for (String domain : options.searchPath()) {
        try {
          searchPath.add(Name.fromString(domain, Name.root));
        } catch (TextParseException e) {
          throw new IllegalArgumentException("searchPath: " + domain + " is not a DNS name", e);
        }
      }
    } else {
      searchPath.addAll(system.searchPath());
    }
    LookupSession.LookupSessionBuilder builder =
        LookupSession.builder().ndots(options.ndots() != null ? options.ndots() : system.ndots());
    if (!searchPath.isEmpty()) {
      builder.searchPath(searchPath);
    }
    return new DnsLookup(resolver, builder, executor);
  }
}
