package io.github.kubegrpclb.core;

import io.grpc.Attributes;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * This client's coordinate for deterministic subsetting, from the first source that has one:
 *
 * <ol>
 *   <li>the policy's {@code subsetting.clientIndex} option;
 *   <li>the resolver's {@link EndpointAttributes#CLIENT_INDEX} (for example this pod's position
 *       among the pods of its own Service);
 *   <li>the ordinal at the end of the pod name ({@code HOSTNAME}), as a StatefulSet names its pods
 *       ({@code web-7} is client 7);
 *   <li>a hash of the host name: stable per pod, but clients then land on rounds and slices at
 *       random, so the spread is no better than random subsetting.
 * </ol>
 *
 * Indexes 0..N-1 spread N clients exactly; gaps are harmless. The first two sources may also give
 * the client count N ({@code subsetting.clientCount}, {@link EndpointAttributes#CLIENT_COUNT}):
 * {@link DeterministicSubset} then uses the deterministic aperture, which moves far fewer
 * connections when clients come and go. Stateless.
 *
 * @param index this client's index, at least 0
 * @param count the number of clients, or 0 when unknown
 * @param source where the index comes from, for the channel log
 */
record ClientIndex(long index, int count, String source) {
  private static final Pattern ORDINAL = Pattern.compile(".*-(\\d{1,9})");

  static ClientIndex resolve(SubsettingConfig config, Attributes resolution, String hostname) {
    if (config.clientIndex >= 0) {
      return new ClientIndex(
          config.clientIndex, config.clientCount, "the subsetting.clientIndex option");
    }
    Integer fromResolver = resolution.get(EndpointAttributes.CLIENT_INDEX);
    if (fromResolver != null && fromResolver >= 0) {
      Integer count = resolution.get(EndpointAttributes.CLIENT_COUNT);
      return new ClientIndex(
          fromResolver, count != null && count > 0 ? count : 0, "the name resolver");
    }
    String host = hostname == null ? "" : hostname;
    Matcher ordinal = ORDINAL.matcher(host);
    if (ordinal.matches()) {
      return new ClientIndex(
          Long.parseLong(ordinal.group(1)),
          0,
          "the ordinal of pod name " + host + " (StatefulSet)");
    }
    return new ClientIndex(
        DeterministicSubset.keyHash(host) & Integer.MAX_VALUE,
        0,
        "a hash of host name '"
            + host
            + "': spread no better than random subsetting; set subsetting.clientIndex or use a"
            + " StatefulSet for an exact spread");
  }

  /** True when the client count is known: the deterministic aperture applies. */
  boolean countKnown() {
    return count > 0;
  }

  /** For the channel log: {@code 7} or {@code 7 of 300}. */
  String describe() {
    return countKnown() ? index + " of " + count : Long.toString(index);
  }

  /** The pod name in Kubernetes ({@code HOSTNAME}), else the local host name, else "". */
  static String systemHostname() {
    String env = System.getenv("HOSTNAME");
    if (env != null && !env.isEmpty()) {
      return env;
    }
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      return "";
    }
  }
}
