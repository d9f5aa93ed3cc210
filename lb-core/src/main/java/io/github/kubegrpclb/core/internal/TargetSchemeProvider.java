package io.github.kubegrpclb.core.internal;

import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.Uri;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.Collection;
import java.util.List;

/**
 * What this library's name-resolver providers share: available, priority 5 (never the default for
 * scheme-less targets), IP socket addresses, both target forms grpc-java passes ({@link URI} and,
 * since 1.79, {@link Uri}) funnelled into one {@link #create}, and null for other schemes.
 * Thread-safe if {@link #create} is.
 */
public abstract class TargetSchemeProvider extends NameResolverProvider {
  private final String scheme;

  protected TargetSchemeProvider(String scheme) {
    this.scheme = scheme;
  }

  /**
   * Builds the resolver for a target of this provider's scheme.
   *
   * @throws IllegalArgumentException for a malformed target, naming the problem and the form
   */
  protected abstract NameResolver create(TargetUri target, NameResolver.Args args);

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
    return scheme;
  }

  @Override
  public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
    return List.of(InetSocketAddress.class);
  }

  @Override
  public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
    return createIfMine(TargetUri.of(targetUri), args);
  }

  @Override
  public NameResolver newNameResolver(Uri targetUri, NameResolver.Args args) {
    return createIfMine(TargetUri.of(targetUri), args);
  }

  private NameResolver createIfMine(TargetUri target, NameResolver.Args args) {
    return scheme.equals(target.scheme) ? create(target, args) : null;
  }
}
