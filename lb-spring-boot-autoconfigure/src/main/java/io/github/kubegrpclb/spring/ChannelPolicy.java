package io.github.kubegrpclb.spring;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The policy and policy config a channel's properties ask for: {@code policy}, {@code
 * policy-config.*} and the {@code stream-rebalancing.*} options merged into the policy's {@code
 * "streamRebalancing"} object. Stateless.
 */
final class ChannelPolicy {
  /** The resolvers' default policy, asked for when only stream rebalancing is configured. */
  static final String DEFAULT_POLICY = "kube_round_robin";

  private static final String STREAM_REBALANCING = "streamRebalancing";

  private ChannelPolicy() {}

  /** The policy to ask the resolver for, or null for the resolver's default. */
  static String name(KubeGrpcLbProperties.Channel channel) {
    if (channel.getPolicy() != null) {
      return channel.getPolicy();
    }
    return streamOptionsSet(channel.getStreamRebalancing()) ? DEFAULT_POLICY : null;
  }

  /** The policy's JSON config: {@code policy-config.*} plus {@code stream-rebalancing.*}. */
  static Map<String, ?> config(KubeGrpcLbProperties.Channel channel) {
    Map<String, Object> config =
        new LinkedHashMap<>(PropertyValues.json(channel.getPolicyConfig()));
    KubeGrpcLbProperties.StreamRebalancingOptions streams = channel.getStreamRebalancing();
    if (!streamOptionsSet(streams)) {
      return config;
    }
    if (config.containsKey(STREAM_REBALANCING)) {
      throw new IllegalArgumentException(
          "policy-config.streamRebalancing and stream-rebalancing.* are both set (expected: one of"
              + " them; use stream-rebalancing.*)");
    }
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("enabled", streams.isEnabled());
    putDuration(json, "interval", streams.getInterval());
    putNumber(json, "tolerance", streams.getTolerance());
    putNumber(json, "maxSharePerInterval", streams.getMaxSharePerInterval());
    putNumber(json, "jitter", streams.getJitter());
    putDuration(json, "terminationGrace", streams.getTerminationGrace());
    putNumber(json, "drainShare", streams.getDrainShare());
    config.put(STREAM_REBALANCING, json);
    return config;
  }

  /**
   * Whether the policy config turns stream rebalancing on, either way: the channel then needs
   * {@code StreamRebalancing.interceptor()}.
   */
  static boolean streamRebalancing(Map<String, ?> config) {
    return config.get(STREAM_REBALANCING) instanceof Map<?, ?> streams
        && Boolean.TRUE.equals(streams.get("enabled"));
  }

  private static boolean streamOptionsSet(KubeGrpcLbProperties.StreamRebalancingOptions streams) {
    return streams.isEnabled()
        || streams.getInterval() != null
        || streams.getTolerance() != null
        || streams.getMaxSharePerInterval() != null
        || streams.getJitter() != null
        || streams.getTerminationGrace() != null
        || streams.getDrainShare() != null;
  }

  private static void putDuration(Map<String, Object> json, String field, Duration value) {
    if (value != null) {
      // The policy parser's form ("1.5s"); it rejects zero and negative durations by name.
      json.put(
          field, BigDecimal.valueOf(value.toNanos(), 9).stripTrailingZeros().toPlainString() + "s");
    }
  }

  private static void putNumber(Map<String, Object> json, String field, Double value) {
    if (value != null) {
      json.put(field, value);
    }
  }
}
