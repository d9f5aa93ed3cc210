package io.github.kubegrpclb.core.internal;

import io.grpc.NameResolver;
import java.net.URI;
import java.util.function.BiFunction;
import java.util.function.Function;
import javax.annotation.Nullable;

/**
 * One of this library's target schemes: its name, the form its targets take, and the one place a
 * parse error gets the scheme, the target and that form added, so each parser throws only the
 * problem. A public resolver provider holds one (composition keeps this internal type out of the
 * public type hierarchy). Immutable.
 *
 * @param name the scheme, e.g. {@code headless}
 * @param expectedForm the target syntax with an example, for error messages
 */
public record TargetScheme(String name, String expectedForm) {

  /**
   * Returns {@code factory}'s resolver for a target of this scheme, or null for another scheme (as
   * {@link NameResolver.Factory#newNameResolver(URI, NameResolver.Args)} must).
   *
   * @throws IllegalStateException when the grpc-java on the classpath is older than {@link
   *     GrpcJavaVersion#OLDEST}
   */
  @Nullable
  public NameResolver newNameResolver(
      URI target,
      NameResolver.Args args,
      BiFunction<TargetUri, NameResolver.Args, NameResolver> factory) {
    TargetUri uri = TargetUri.of(target);
    if (!name.equals(uri.scheme())) {
      return null;
    }
    GrpcJavaVersion.check(); // before any type newer than the oldest grpc-java is touched
    return factory.apply(uri, args);
  }

  /**
   * Parses {@code target} with {@code parser}.
   *
   * @throws IllegalArgumentException naming the scheme, the target, the parser's problem and the
   *     expected form
   */
  public <T> T parse(TargetUri target, Function<TargetUri, T> parser) {
    try {
      return parser.apply(target);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "Invalid "
              + name
              + " target '"
              + target.text()
              + "': "
              + e.getMessage()
              + "; expected "
              + expectedForm,
          e);
    }
  }
}
