package io.github.kubegrpclb.core.internal;

import java.util.regex.Pattern;
import javax.annotation.Nullable;

/**
 * The port part of a target: a pod port number, or a port name, which the resolver maps to the
 * pod's port. Service and EndpointSlice port names are DNS labels (RFC 1123, up to 63 characters);
 * the stricter 15-character IANA rule applies to container ports only, so it is not enforced here.
 * Immutable.
 *
 * @param number the port number, or 0 when {@code name} is set
 * @param name the port name, or null when {@code number} is set
 */
public record PortSpec(int number, @Nullable String name) {
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

  /**
   * Parses {@code 50051} or {@code grpc}.
   *
   * @throws IllegalArgumentException naming the value and what was expected
   */
  public static PortSpec parse(String text) {
    if (!text.isEmpty() && text.chars().allMatch(Character::isDigit)) {
      return new PortSpec(parseNumber(text), null);
    }
    if (NAME.matcher(text).matches()) {
      return new PortSpec(0, text);
    }
    throw new IllegalArgumentException(
        "'"
            + text
            + "' is neither a port number (1..65535) nor a port name (expected: a DNS label of"
            + " lower-case letters, digits and '-', at most 63 characters, as in the Service's"
            + " ports[].name)");
  }

  /**
   * Parses a port number.
   *
   * @throws IllegalArgumentException unless it is in 1..65535
   */
  public static int parseNumber(String text) {
    int port = -1;
    if (!text.isEmpty() && text.length() <= 5 && text.chars().allMatch(Character::isDigit)) {
      port = Integer.parseInt(text);
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port " + text + " (expected: 1..65535)");
    }
    return port;
  }
}
