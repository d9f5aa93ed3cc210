/**
 * A gRPC name resolver that watches Kubernetes EndpointSlices ({@code kubernetes:///}): endpoint
 * changes reach the balancer within milliseconds of the API server knowing, with ready,
 * terminating-but-serving and zone information. See {@link
 * io.github.kubegrpclb.endpointslice.EndpointSliceNameResolverProvider}.
 */
package io.github.kubegrpclb.endpointslice;
