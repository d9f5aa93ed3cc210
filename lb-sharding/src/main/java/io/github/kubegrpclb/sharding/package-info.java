/**
 * {@link io.github.kubegrpclb.sharding.ShardedChannel}: a channel over several connections to one
 * ClusterIP Service, recycled over time, for services that cannot be made headless and clients
 * without Kubernetes API access.
 *
 * <p>Public: {@code ShardedChannel} (and its builder) and {@link
 * io.github.kubegrpclb.sharding.PodIdentityServerInterceptor} for the servers. Everything else is
 * package-private; a map, in reading order:
 *
 * <ol>
 *   <li>{@code ShardedChannel}: the {@code ManagedChannel} contract, calls round robin over READY
 *       shards; {@code ChannelStateNotifier} holds its aggregate state and callbacks.
 *   <li>{@code ShardPool}: the state machine that keeps the shards connected, aged out make before
 *       break and spread over pods; {@code RedialBudget} bounds its re-dials.
 *   <li>{@code Shard}: one connection, the pod it reached and its open calls.
 *   <li>Which pod a connection reached: {@code PodIdentityInterceptor} reads the header {@code
 *       PodIdentityServerInterceptor} sets.
 *   <li>{@code ShardObserver}: metrics and the {@code LbDebug} snapshot.
 * </ol>
 */
package io.github.kubegrpclb.sharding;
