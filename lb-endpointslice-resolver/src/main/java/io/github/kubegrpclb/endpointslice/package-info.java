/**
 * A gRPC name resolver that watches Kubernetes EndpointSlices ({@code kubernetes:///}): endpoint
 * changes reach the balancer within milliseconds of the API server knowing, with ready,
 * terminating-but-serving and zone information.
 *
 * <p>Public: {@link io.github.kubegrpclb.endpointslice.EndpointSliceNameResolverProvider}
 * (registers the scheme) and {@link io.github.kubegrpclb.endpointslice.EndpointSliceOptions}
 * (per-channel options). Everything else is package-private; a map, in reading order:
 *
 * <ol>
 *   <li>{@code EndpointSliceNameResolverProvider} parses the target ({@code KubernetesTarget}),
 *       reads what the pod says about itself once ({@code PodEnvironment}) and builds one resolver
 *       per channel.
 *   <li>{@code EndpointSliceNameResolver}: coalesces watch events into one update, publishes
 *       address groups and the policy's service config, keeps the last good set through errors;
 *       {@code WatchErrors} says what a watch failure means (message, cause log, error counter).
 *   <li>{@code ServiceWatches}: one shared watch per Service among every channel, kept for a grace
 *       period after the last channel goes idle; {@code ServiceWatch} is one Service's informer.
 *   <li>{@code EndpointSliceMapper}: every slice of a Service to address groups (conditions, zones,
 *       hints, ports, dual stack).
 *   <li>Subsetting's client index: {@code ClientIndexWatch} watches the client's own Service and
 *       {@code ClientPosition} finds this pod among its pods.
 * </ol>
 */
package io.github.kubegrpclb.endpointslice;
