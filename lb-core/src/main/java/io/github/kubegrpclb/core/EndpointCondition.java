package io.github.kubegrpclb.core;

/**
 * The serving condition of one Kubernetes endpoint, as EndpointSlice conditions define it.
 *
 * <p>Balancers in this library pick {@link #READY} endpoints and fall back to {@link
 * #TERMINATING_SERVING} ones only while no ready endpoint can take traffic, which is what
 * kube-proxy does (KEP-1669). Endpoints that are neither are not handed to the balancer at all.
 */
public enum EndpointCondition {
  /** {@code ready} is true (or unset): the endpoint is in rotation. */
  READY,
  /** {@code serving} and {@code terminating} are true: a fallback while no endpoint is ready. */
  TERMINATING_SERVING
}
