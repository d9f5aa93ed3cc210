package io.github.kubegrpclb.spring;

import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.core.StreamRebalancing;
import io.grpc.ManagedChannelBuilder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.grpc.client.autoconfigure.GrpcClientProperties;
import org.springframework.grpc.client.GrpcChannelBuilderCustomizer;
import org.springframework.util.ClassUtils;

/**
 * Hands each Spring gRPC channel whose address is a {@code kubernetes:///} or {@code headless:///}
 * target its resolver options: those of {@code kube-grpc-lb.channels.<name>}, plus the channel's
 * {@code service-config} and {@code health} settings, which Spring gRPC puts in the channel's
 * {@code defaultServiceConfig} where grpc-java would ignore them (a resolver's service config
 * replaces the default one). With {@code stream-rebalancing.enabled=true} it also installs {@link
 * StreamRebalancing#interceptor()}, which that option needs. Other channels are left alone.
 * Stateless; called from any thread.
 */
final class ChannelCustomizer<T extends ManagedChannelBuilder<T>>
    implements GrpcChannelBuilderCustomizer<T> {
  private static final Pattern POLICY_CHANNEL = Pattern.compile("[?&]policy=channel(&|$)");
  private static final Pattern TARGET_POLICY = Pattern.compile("[?&]policy=([^&]*)");
  private static final boolean ENDPOINT_SLICES =
      ClassUtils.isPresent("io.github.kubegrpclb.endpointslice.EndpointSliceOptions", null);
  private static final boolean HEADLESS =
      ClassUtils.isPresent("io.github.kubegrpclb.dns.HeadlessDnsOptions", null);

  private final KubeGrpcLbProperties properties;
  private final GrpcClientProperties grpcProperties;
  private final ObjectProvider<LbTelemetry> telemetry;
  private final Supplier<Object> kubernetesClient;

  /**
   * @param kubernetesClient the application's fabric8 KubernetesClient bean, or null (typed Object
   *     so that this class loads without fabric8)
   */
  ChannelCustomizer(
      KubeGrpcLbProperties properties,
      GrpcClientProperties grpcProperties,
      ObjectProvider<LbTelemetry> telemetry,
      Supplier<Object> kubernetesClient) {
    this.properties = properties;
    this.grpcProperties = grpcProperties;
    this.telemetry = telemetry;
    this.kubernetesClient = kubernetesClient;
  }

  @Override
  public void customize(String name, T builder) {
    String target = grpcProperties.getTarget(name);
    boolean kubernetes = target.startsWith("kubernetes:");
    boolean headless = target.startsWith("headless:");
    if (!kubernetes && !headless) {
      return;
    }
    KubeGrpcLbProperties.Channel channel = properties.getChannels().get(name);
    if (channel == null) {
      channel = new KubeGrpcLbProperties.Channel();
    }
    Map<String, Object> serviceConfig =
        channel.isKeepServiceConfig() && !POLICY_CHANNEL.matcher(target).find()
            ? springServiceConfig(name)
            : Map.of();
    LbTelemetry lbTelemetry = telemetry.getIfUnique();
    try {
      String policy = ChannelPolicy.name(channel);
      Map<String, ?> policyConfig = policy == null ? Map.of() : ChannelPolicy.config(channel);
      if (kubernetes) {
        requireModule(ENDPOINT_SLICES, "lb-endpointslice-resolver", target);
        EndpointSliceChannels.customize(
            builder,
            channel,
            policy,
            policyConfig,
            serviceConfig,
            lbTelemetry,
            kubernetesClient.get());
      } else {
        requireModule(HEADLESS, "lb-dns-resolver", target);
        HeadlessChannels.customize(
            builder, channel, policy, policyConfig, serviceConfig, lbTelemetry);
      }
      if (ChannelPolicy.streamRebalancing(policyConfig)) {
        requireTargetPolicy(target, policy);
        // A balancer cannot end a call: the interceptor gives each streaming call a handle.
        builder.intercept(StreamRebalancing.interceptor());
      }
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "Spring gRPC channel '"
              + name
              + "' ("
              + target
              + "): "
              + e.getMessage()
              + " [properties: spring.grpc.client.channels."
              + name
              + ".service-config / .health, kube-grpc-lb.channels."
              + name
              + ".*]",
          e);
    }
  }

  /** What Spring gRPC's properties put in the channel's defaultServiceConfig. */
  private Map<String, Object> springServiceConfig(String name) {
    GrpcClientProperties.ChannelConfig config = grpcProperties.getChannel(name);
    Map<String, Object> serviceConfig = new LinkedHashMap<>(config.extractServiceConfig());
    if (config.getHealth().isEnabled()) {
      String service = config.getHealth().getServiceName();
      serviceConfig.put("healthCheckConfig", Map.of("serviceName", service == null ? "" : service));
    }
    return serviceConfig;
  }

  /** Stream rebalancing is in this policy's config: a different {@code ?policy=} would drop it. */
  private static void requireTargetPolicy(String target, String policy) {
    Matcher query = TARGET_POLICY.matcher(target);
    if (query.find() && !query.group(1).equals(policy)) {
      throw new IllegalArgumentException(
          "stream-rebalancing is set for policy "
              + policy
              + ", but ?policy="
              + query.group(1)
              + " in the address wins with that policy's defaults, rebalancing off (expected: no"
              + " ?policy= in the address; set kube-grpc-lb.channels.<name>.policy instead)");
    }
  }

  private static void requireModule(boolean present, String module, String target) {
    if (!present) {
      throw new IllegalStateException(
          "target " + target + " needs io.github.kubegrpclb:" + module + " on the classpath");
    }
  }
}
