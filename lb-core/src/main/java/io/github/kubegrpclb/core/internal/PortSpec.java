package io.github.kubegrpclb.core.internal;

import java.util.regex.Pattern;

/**
 * The port part of a target: a pod port number, or a port name (an IANA service name, as Kubernetes
 * names Service ports), which the resolver maps to the pod's port. Immutable.
 */
public final class PortSpec {
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?");

  /** The port number, or 0 when {@link #name} is set. */
  public final int number;

  /** The port name, or null when {@link #number} is set. */
  public final String name;

  private PortSpec(int number, String name) {
    this.number = number;
    this.name = name;
  }

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
            + "' is neither a port number nor a port name (lower-case letters, digits, '-')");
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
