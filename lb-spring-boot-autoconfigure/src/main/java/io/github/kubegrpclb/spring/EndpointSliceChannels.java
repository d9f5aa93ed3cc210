package io.github.kubegrpclb.spring;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.endpointslice.EndpointSliceOptions;
import io.grpc.ManagedChannelBuilder;
import java.util.Map;

/** Builds {@link EndpointSliceOptions} from properties; loaded only with that module present. */
final class EndpointSliceChannels {
  private EndpointSliceChannels() {}

  static void customize(
      ManagedChannelBuilder<?> builder,
      KubeGrpcLbProperties.Channel channel,
      String policy,
      Map<String, ?> policyConfig,
      Map<String, Object> serviceConfig,
      LbTelemetry telemetry,
      Object client) {
    EndpointSliceOptions.Builder options = EndpointSliceOptions.builder();
    if (client instanceof KubernetesClient kubernetes) {
      options.client(kubernetes);
    }
    if (policy != null) {
      options.policy(policy, policyConfig);
    }
    if (!serviceConfig.isEmpty()) {
      options.serviceConfig(serviceConfig);
    }
    if (channel.getClientZone() != null) {
      options.clientZone(channel.getClientZone());
    }
    if (channel.getClientNode() != null) {
      options.clientNode(channel.getClientNode());
    }
    if (channel.getClientService() != null) {
      options.clientService(channel.getClientService());
    }
    if (telemetry != null) {
      options.telemetry(telemetry);
    }
    builder.setNameResolverArg(EndpointSliceOptions.KEY, options.build());
  }
}
