package io.github.kubegrpclb.testing;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannelBuilder;
import io.grpc.NameResolverProvider;

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
  // builds the same private registry that the 1.83 overload does.
  @SuppressWarnings("deprecation")
  public static ManagedChannelBuilder<?> builder(
      String target, ChannelCredentials credentials, NameResolverProvider provider) {
    return Grpc.newChannelBuilder(target, credentials).nameResolverFactory(provider);
  }
}
