package io.github.kubegrpclb.testing;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannelBuilder;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.StatusOr;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A name resolver whose endpoints the test sets, for balancer tests over real loopback pods.
 * Channels built with {@link #channelBuilder} use it alone ({@link PrivateResolverChannels}), so
 * nothing global is registered. Every resolver it creates receives each {@link #update}, in the
 * channel's SynchronizationContext.
 *
 * <p>Thread-safe.
 */
public final class ManualNameResolverProvider extends NameResolverProvider {
  private static final String SCHEME = "manual";
  private final Set<Resolver> resolvers = new CopyOnWriteArraySet<>();
  private final AtomicInteger refreshes = new AtomicInteger();
  private volatile List<EquivalentAddressGroup> groups = List.of();
  private volatile Attributes attributes = Attributes.EMPTY;
  private volatile Map<String, ?> serviceConfig;

  /** Starts with {@code groups} as the endpoint set. */
  public ManualNameResolverProvider(List<EquivalentAddressGroup> groups) {
    this.groups = List.copyOf(groups);
  }

  /** A channel builder for {@code manual:///pods} that resolves through this provider only. */
  public ManagedChannelBuilder<?> channelBuilder() {
    return PrivateResolverChannels.builder(
        SCHEME + ":///pods", InsecureChannelCredentials.create(), this);
  }

  /** Publishes a new endpoint set to every live resolver. */
  public void update(List<EquivalentAddressGroup> newGroups) {
    update(newGroups, attributes);
  }

  /** Publishes a new endpoint set and resolution attributes to every live resolver. */
  public void update(List<EquivalentAddressGroup> newGroups, Attributes newAttributes) {
    this.groups = List.copyOf(newGroups);
    this.attributes = newAttributes;
    resolvers.forEach(Resolver::publish);
  }

  /**
   * Publishes the endpoint set with a service config (JSON as maps), as a resolver that reads it
   * from DNS TXT or its options does; the channel's default service config then no longer applies.
   */
  public void update(List<EquivalentAddressGroup> newGroups, Map<String, ?> newServiceConfig) {
    this.serviceConfig = Map.copyOf(newServiceConfig);
    update(newGroups, attributes);
  }

  /** How often a channel asked for re-resolution. */
  public int refreshCount() {
    return refreshes.get();
  }

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
    return SCHEME;
  }

  @Override
  public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
    return List.of(InetSocketAddress.class);
  }

  @Override
  public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
    return SCHEME.equals(targetUri.getScheme()) ? new Resolver(args) : null;
  }

  private final class Resolver extends NameResolver {
    private final NameResolver.Args args;
    private Listener2 listener;

    Resolver(NameResolver.Args args) {
      this.args = args;
    }

    @Override
    public String getServiceAuthority() {
      return "pods";
    }

    @Override
    public void start(Listener2 listener) {
      this.listener = listener;
      resolvers.add(this);
      publishNow();
    }

    @Override
    public void refresh() {
      refreshes.incrementAndGet();
    }

    void publish() {
      args.getSynchronizationContext().execute(this::publishNow);
    }

    private void publishNow() {
      if (listener != null && resolvers.contains(this)) {
        ResolutionResult.Builder result =
            ResolutionResult.newBuilder()
                .setAddressesOrError(StatusOr.fromValue(groups))
                .setAttributes(attributes);
        Map<String, ?> config = serviceConfig;
        if (config != null) {
          result.setServiceConfig(args.getServiceConfigParser().parseServiceConfig(config));
        }
        listener.onResult2(result.build());
      }
    }

    @Override
    public void shutdown() {
      resolvers.remove(this);
    }
  }
}
