package io.github.kubegrpclb.spring;

import io.github.kubegrpclb.core.LbTelemetry;
import io.grpc.ManagedChannelBuilder;
import io.opentelemetry.api.OpenTelemetry;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.grpc.client.autoconfigure.GrpcClientAutoConfiguration;
import org.springframework.boot.grpc.client.autoconfigure.GrpcClientProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.grpc.client.GrpcChannelBuilderCustomizer;
import org.springframework.util.ClassUtils;

/**
 * Spring Boot auto-configuration for kube-grpc-lb with Spring gRPC 1.x: every channel whose {@code
 * spring.grpc.client.channels.<name>.address} is a {@code kubernetes:///} or {@code headless:///}
 * target gets its resolver options from {@code kube-grpc-lb.channels.<name>.*}, keeps Spring gRPC's
 * {@code service-config} and {@code health} settings together with the policy, uses the
 * application's fabric8 {@code KubernetesClient} bean if there is one, and records metrics to the
 * application's {@code OpenTelemetry} bean (else {@code GlobalOpenTelemetry}). With Spring Boot
 * Actuator, the {@code kubegrpclb} endpoint shows the balancers' snapshots. See docs/spring.md.
 */
@AutoConfiguration(after = GrpcClientAutoConfiguration.class)
@ConditionalOnClass({GrpcChannelBuilderCustomizer.class, GrpcClientProperties.class})
@ConditionalOnBean(GrpcClientProperties.class)
@EnableConfigurationProperties(KubeGrpcLbProperties.class)
public final class KubeGrpcLbAutoConfiguration {
  private static final String KUBERNETES_CLIENT = "io.fabric8.kubernetes.client.KubernetesClient";

  /** Hands kube-grpc-lb channels their resolver options. */
  @Bean
  <T extends ManagedChannelBuilder<T>> GrpcChannelBuilderCustomizer<T> kubeGrpcLbChannelCustomizer(
      KubeGrpcLbProperties properties,
      GrpcClientProperties grpcProperties,
      ObjectProvider<LbTelemetry> telemetry,
      ListableBeanFactory beans) {
    return new ChannelCustomizer<>(
        properties,
        grpcProperties,
        telemetry,
        () ->
            ClassUtils.isPresent(KUBERNETES_CLIENT, null)
                ? beans
                    .getBeanProvider(ClassUtils.resolveClassName(KUBERNETES_CLIENT, null))
                    .getIfUnique()
                : null);
  }

  /** Metrics to the application's OpenTelemetry, when the API is on the classpath. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(OpenTelemetry.class)
  static class OpenTelemetryConfiguration {
    @Bean
    @ConditionalOnMissingBean
    LbTelemetry kubeGrpcLbTelemetry(ObjectProvider<OpenTelemetry> openTelemetry) {
      OpenTelemetry application = openTelemetry.getIfUnique();
      return application == null ? LbTelemetry.global() : LbTelemetry.create(application);
    }
  }

  /** The actuator endpoint, when Spring Boot Actuator is on the classpath. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "org.springframework.boot.actuate.endpoint.annotation.Endpoint")
  static class EndpointConfiguration {
    @Bean
    @ConditionalOnMissingBean
    KubeGrpcLbEndpoint kubeGrpcLbEndpoint(GrpcClientProperties channels) {
      return new KubeGrpcLbEndpoint(channels);
    }
  }
}
