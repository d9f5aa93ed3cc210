package io.github.kubegrpclb.testing;

import io.grpc.ConnectivityState;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import io.grpc.NameResolver.ConfigOrError;
import io.grpc.util.ForwardingLoadBalancerHelper;
import io.grpc.util.ForwardingSubchannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A load-balancing policy for tests and benchmarks that runs another policy unchanged and records
 * when each of its subchannels first reports READY: how long a channel takes until every endpoint
 * is connected, measured the same way for any policy (ours or grpc-java's), at the Helper, below
 * any health-checking wrapper. Registered in the default registry by {@link #register}, removed by
 * {@link #close}; its config is handed to the wrapped policy as is.
 *
 * <p>Thread-safe.
 */
public final class ReadyCountingPolicy extends LoadBalancerProvider implements AutoCloseable {
  private final String name;
  private final LoadBalancerProvider delegate;
  private final List<Long> readyNanos = new ArrayList<>();

  private ReadyCountingPolicy(String name, LoadBalancerProvider delegate) {
    this.name = name;
    this.delegate = delegate;
  }

  /**
   * Registers a policy named {@code name} that runs {@code policy}; close it to deregister.
   *
   * @throws IllegalArgumentException if {@code policy} is not registered
   */
  public static ReadyCountingPolicy register(String name, String policy) {
    LoadBalancerProvider delegate = LoadBalancerRegistry.getDefaultRegistry().getProvider(policy);
    if (delegate == null) {
      throw new IllegalArgumentException("policy not registered: " + policy);
    }
    ReadyCountingPolicy counting = new ReadyCountingPolicy(name, delegate);
    LoadBalancerRegistry.getDefaultRegistry().register(counting);
    return counting;
  }

  /** How many distinct subchannels have reported READY so far. */
  public synchronized int readyCount() {
    return readyNanos.size();
  }

  /**
   * The {@link System#nanoTime} at which the {@code count}-th distinct subchannel first reported
   * READY, or -1 if fewer have.
   */
  public synchronized long nanosWhenReady(int count) {
    return readyNanos.size() < count ? -1 : readyNanos.get(count - 1);
  }

  private synchronized void ready(long nanos) {
    readyNanos.add(nanos);
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
    return delegate.parseLoadBalancingPolicyConfig(rawConfig);
  }

  @Override
  public LoadBalancer newLoadBalancer(LoadBalancer.Helper helper) {
    return delegate.newLoadBalancer(
        new ForwardingLoadBalancerHelper() {
          @Override
          protected LoadBalancer.Helper delegate() {
            return helper;
          }

          @Override
          public LoadBalancer.Subchannel createSubchannel(LoadBalancer.CreateSubchannelArgs args) {
            return new CountingSubchannel(helper.createSubchannel(args));
          }
        });
  }

  /** Passes every call through; records the first READY its listener hears. */
  private final class CountingSubchannel extends ForwardingSubchannel {
    private final LoadBalancer.Subchannel subchannel;
    private boolean wasReady; // written by the listener, in the SynchronizationContext

    CountingSubchannel(LoadBalancer.Subchannel subchannel) {
      this.subchannel = subchannel;
    }

    @Override
    protected LoadBalancer.Subchannel delegate() {
      return subchannel;
    }

    @Override
    public void start(LoadBalancer.SubchannelStateListener listener) {
      subchannel.start(
          state -> {
            if (state.getState() == ConnectivityState.READY && !wasReady) {
              wasReady = true;
              ready(System.nanoTime());
            }
            listener.onSubchannelState(state);
          });
    }
  }
}
