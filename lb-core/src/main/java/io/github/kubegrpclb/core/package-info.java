/**
 * Load-balancing policies for gRPC on Kubernetes ({@code kube_round_robin}, {@code peak_ewma}) and
 * the endpoint model that this library's resolvers fill in ({@link
 * io.github.kubegrpclb.core.EndpointAttributes}).
 */
package io.github.kubegrpclb.core;
