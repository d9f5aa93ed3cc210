/**
 * Spring Boot auto-configuration for kube-grpc-lb with Spring gRPC 1.x: resolver options for each
 * {@code kubernetes:///} or {@code headless:///} channel from {@code kube-grpc-lb.channels.<name>},
 * and the actuator endpoint. A map, in reading order:
 *
 * <ol>
 *   <li>{@link io.github.kubegrpclb.spring.KubeGrpcLbAutoConfiguration}: what is registered, and
 *       when.
 *   <li>{@link io.github.kubegrpclb.spring.KubeGrpcLbProperties}: the properties, per channel.
 *   <li>{@code ChannelCustomizer}: hands each channel its options, keeping Spring gRPC's service
 *       config and health settings; {@code EndpointSliceChannels} and {@code HeadlessChannels}
 *       build each resolver's options (loaded only with its module present); {@code PropertyValues}
 *       turns bound strings into the JSON values a policy's parser expects.
 *   <li>{@link io.github.kubegrpclb.spring.KubeGrpcLbEndpoint}: the {@code kubegrpclb} actuator
 *       endpoint.
 * </ol>
 */
package io.github.kubegrpclb.spring;
