package io.github.kubegrpclb.testing;

import io.grpc.ConnectivityState;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import io.grpc.NameResolver.ConfigOrError;
import io.grpc.Status;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A load-balancing policy for tests that records the config of every address update its balancers
 * receive, so a test sees which policy config reached a real channel's balancer. Its balancers pick
 * nothing: RPCs fail with UNAVAILABLE. Registered in the default registry by {@link #register},
 * removed by {@link #close}.
 *
 * <p>Thread-safe.
 */
public final class RecordingPolicy extends LoadBalancerProvider implements AutoCloseable {
  private final String name;
  private final List<Object> configs = new CopyOnWriteArrayList<>();

  private RecordingPolicy(String name) {
    this.name = name;
  }

  /** Registers a recording policy named {@code name}; close it to deregister. */
  public static RecordingPolicy register(String name) {
    RecordingPolicy policy = new RecordingPolicy(name);
    LoadBalancerRegistry.getDefaultRegistry().register(policy);
    return policy;
  }

  /** The configs (as parsed: an immutable copy of the JSON object) of every update, in order. */
  public List<Object> configs() {
    return Collections.unmodifiableList(configs);
  }

  @Override
  public void close() {
    LoadBalancerRegistry.getDefaultRegistry().deregister(this);
  }

  @Override
  public boolean isAvailable() {
    return true;
  }

  @Override
  public int getPriority() {
    return 5;
  }

  @Override
  public String getPolicyName() {
    return name;
  }

  @Override
  public ConfigOrError parseLoadBalancingPolicyConfig(Map<String, ?> rawConfig) {
    return ConfigOrError.fromConfig(Map.copyOf(rawConfig));
  }

  @Override
  public LoadBalancer newLoadBalancer(LoadBalancer.Helper helper) {
    return new LoadBalancer() {
      @Override
      public Status acceptResolvedAddresses(ResolvedAddresses addresses) {
        configs.add(addresses.getLoadBalancingPolicyConfig());
        fail(Status.UNAVAILABLE.withDescription(name + " picks nothing"));
        return Status.OK;
      }

      @Override
      public void handleNameResolutionError(Status error) {
        fail(error);
      }

      private void fail(Status status) {
        helper.updateBalancingState(
            ConnectivityState.TRANSIENT_FAILURE,
            new FixedResultPicker(PickResult.withError(status)));
      }

      @Override
      public void shutdown() {}
    };
  }
}
