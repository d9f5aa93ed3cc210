/**
 * {@link io.github.kubegrpclb.sharding.ShardedChannel}: a channel over several connections to one
 * ClusterIP Service, recycled over time, for services that cannot be made headless and clients
 * without Kubernetes API access.
 */
package io.github.kubegrpclb.sharding;
