package io.github.kubegrpclb.testing;

import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannelBuilder;
import io.grpc.NameResolverProvider;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;

/**
 * Channel builders that resolve their target through one given {@link NameResolverProvider} only,
 * so a test registers nothing global. Works on every grpc-java the library supports (1.70 on):
 * {@code Grpc.newChannelBuilder(target, credentials, NameResolverRegistry)} would do the same but
 * exists only from 1.83, so the oldest-grpc-java CI run could not compile it.
 *
 * <p>Stateless and thread-safe.
 */
public final class PrivateResolverChannels {
  private PrivateResolverChannels() {}

  /**
   * A builder for {@code target} whose name resolution goes to {@code provider} alone (a target of
   * another scheme fails at the first call, as with a private registry).
   */
  // ManagedChannelBuilder.nameResolverFactory is deprecated (grpc-java #7133) but is the one
  // per-channel resolver hook that grpc-java 1.70 through 1.85 all have; given a provider it
  // builds the same private registry that the 1.83 overload does. Netty's builder, not
  // Grpc.newChannelBuilder: from 1.83 the latter looks the scheme up in the global registry first
  // and that provider wins over the private one for a scheme registered globally (kubernetes).
  @SuppressWarnings("deprecation")
  public static ManagedChannelBuilder<?> builder(
      String target, ChannelCredentials credentials, NameResolverProvider provider) {
    return NettyChannelBuilder.forTarget(target, credentials).nameResolverFactory(provider);
  }
}
