package io.github.kubegrpclb.spring;

import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.dns.HeadlessDnsOptions;
import io.grpc.ManagedChannelBuilder;
import java.util.Locale;
import java.util.Map;

/** Builds {@link HeadlessDnsOptions} from properties; loaded only with that module present. */
final class HeadlessChannels {
  private HeadlessChannels() {}

  static void customize(
      ManagedChannelBuilder<?> builder,
      KubeGrpcLbProperties.Channel channel,
      String policy,
      Map<String, ?> policyConfig,
      Map<String, Object> serviceConfig,
      LbTelemetry telemetry) {
    HeadlessDnsOptions.Builder options = HeadlessDnsOptions.builder();
    if (policy != null) {
      options.policy(policy, policyConfig);
    }
    if (!serviceConfig.isEmpty()) {
      options.serviceConfig(serviceConfig);
    }
    if (channel.getFamily() != null) {
      options.family(family(channel.getFamily()));
    }
    if (channel.getTtlFloor() != null) {
      options.ttlFloor(channel.getTtlFloor());
    }
    if (channel.getTtlCap() != null) {
      options.ttlCap(channel.getTtlCap());
    }
    if (channel.getRefreshInterval() != null) {
      options.refreshInterval(channel.getRefreshInterval());
    }
    if (channel.getQueryTimeout() != null) {
      options.queryTimeout(channel.getQueryTimeout());
    }
    if (telemetry != null) {
      options.telemetry(telemetry);
    }
    builder.setNameResolverArg(HeadlessDnsOptions.KEY, options.build());
  }

  private static HeadlessDnsOptions.AddressFamily family(String value) {
    try {
      return HeadlessDnsOptions.AddressFamily.valueOf(value.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "family=" + value + " (expected one of auto, ipv4, ipv6, both)", e);
    }
  }
}
