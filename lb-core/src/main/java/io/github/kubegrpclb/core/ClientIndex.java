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
 * Indexes 0..N-1 spread N clients exactly; gaps are harmless. Stateless.
 */
record ClientIndex(long index, String source) {
  private static final Pattern ORDINAL = Pattern.compile(".*-(\\d{1,9})");

  static ClientIndex resolve(SubsettingConfig config, Attributes resolution, String hostname) {
    if (config.clientIndex >= 0) {
      return new ClientIndex(config.clientIndex, "the subsetting.clientIndex option");
    }
    Integer fromResolver = resolution.get(EndpointAttributes.CLIENT_INDEX);
    if (fromResolver != null && fromResolver >= 0) {
      return new ClientIndex(fromResolver, "the name resolver");
    }
    String host = hostname == null ? "" : hostname;
    Matcher ordinal = ORDINAL.matcher(host);
    if (ordinal.matches()) {
      return new ClientIndex(
          Long.parseLong(ordinal.group(1)), "the ordinal of pod name " + host + " (StatefulSet)");
    }
    return new ClientIndex(
        DeterministicSubset.keyHash(host) & Integer.MAX_VALUE,
        "a hash of host name '"
            + host
            + "': spread no better than random subsetting; set subsetting.clientIndex or use a"
            + " StatefulSet for an exact spread");
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
