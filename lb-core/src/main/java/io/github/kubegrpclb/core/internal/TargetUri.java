package io.github.kubegrpclb.core.internal;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import javax.annotation.Nullable;

/**
 * The parts of a channel target that this library's resolvers parse. Immutable.
 *
 * @param text the whole target as the user wrote it, for error messages
 * @param scheme the scheme
 * @param authority the raw authority, or null when empty
 * @param path the decoded path, starting with '/' (or null)
 * @param rawQuery the raw query, or null
 */
public record TargetUri(
    String text,
    String scheme,
    @Nullable String authority,
    @Nullable String path,
    @Nullable String rawQuery) {

  public TargetUri {
    authority = authority == null || authority.isEmpty() ? null : authority;
  }

  public static TargetUri of(URI uri) {
    return new TargetUri(
        uri.toString(), uri.getScheme(), uri.getRawAuthority(), uri.getPath(), uri.getRawQuery());
  }

  /**
   * The query's {@code key=value} parameters, decoded, in order.
   *
   * @throws IllegalArgumentException naming an unknown parameter and the known ones
   */
  public Map<String, String> parameters(Set<String> known) {
    Map<String, String> parameters = new LinkedHashMap<>();
    if (rawQuery == null || rawQuery.isEmpty()) {
      return parameters;
    }
    for (String parameter : rawQuery.split("&", -1)) {
      if (parameter.isEmpty()) {
        continue; // "a=1&" or "a=1&&b=2": nothing between the separators
      }
      int eq = parameter.indexOf('=');
      String key = eq < 0 ? parameter : parameter.substring(0, eq);
      if (!known.contains(key)) {
        throw new IllegalArgumentException(
            "unknown parameter '" + key + "' (known: " + new TreeSet<>(known) + ")");
      }
      parameters.put(
          key,
          eq < 0 ? "" : URLDecoder.decode(parameter.substring(eq + 1), StandardCharsets.UTF_8));
    }
    return parameters;
  }
}
