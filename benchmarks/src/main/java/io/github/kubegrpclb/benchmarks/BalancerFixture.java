package io.github.kubegrpclb.benchmarks;

import io.github.kubegrpclb.core.LbTelemetry;
import io.github.kubegrpclb.testing.FakeHelper;
import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.NameResolver.ConfigOrError;
import java.util.List;
import java.util.Map;

/**
 * A balancer built through the real {@link LoadBalancerRegistry} (ours or grpc-java's), driven by a
 * fake Helper with every endpoint READY, for measuring pickers and address updates without network
 * noise.
 */
final class BalancerFixture {
  final FakeHelper helper = new FakeHelper();
  final LoadBalancer balancer;
  final Object config;
  private io.grpc.Attributes resolutionAttributes = io.grpc.Attributes.EMPTY;

  /**
   * grpc-java's round_robin as an application without grpc-services gets it: grpc-util's provider,
   * which grpc-services' health-checking round_robin outranks in the registry.
   */
  static final String BARE_ROUND_ROBIN = "round_robin_bare";

  BalancerFixture(String policy) {
    this(policy, null);
  }

  /** With {@code config} as the parsed policy config, or the provider's defaults when null. */
  BalancerFixture(String policy, Object config) {
    LoadBalancerProvider provider =
        policy.equals(BARE_ROUND_ROBIN)
            ? grpcUtilRoundRobin()
            : LoadBalancerRegistry.getDefaultRegistry().getProvider(policy);
    if (provider == null) {
      throw new IllegalArgumentException("policy not registered: " + policy);
    }
    ConfigOrError parsed = provider.parseLoadBalancingPolicyConfig(Map.of());
    if (parsed.getError() != null) {
      throw new IllegalArgumentException(policy + ": " + parsed.getError());
    }
    this.config = config != null ? config : parsed.getConfig();
    this.balancer = provider.newLoadBalancer(helper);
  }

  private static LoadBalancerProvider grpcUtilRoundRobin() {
    try {
      return (LoadBalancerProvider)
          Class.forName("io.grpc.util.SecretRoundRobinLoadBalancerProvider$Provider")
              .getConstructor()
              .newInstance();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("grpc-util's round_robin provider not found", e);
    }
  }

  /** Records metrics to {@code telemetry} (before the first {@link #accept}). */
  BalancerFixture withTelemetry(LbTelemetry telemetry) {
    resolutionAttributes =
        io.grpc.Attributes.newBuilder().set(LbTelemetry.ATTRIBUTE, telemetry).build();
    return this;
  }

  /** Resolution attributes for every {@link #accept} (the client's zone, for example). */
  BalancerFixture withResolutionAttributes(io.grpc.Attributes attributes) {
    resolutionAttributes = attributes;
    return this;
  }

  void accept(List<EquivalentAddressGroup> groups) {
    helper.run(
        () ->
            balancer.acceptResolvedAddresses(
                LoadBalancer.ResolvedAddresses.newBuilder()
                    .setAddresses(groups)
                    .setLoadBalancingPolicyConfig(config)
                    .setAttributes(resolutionAttributes)
                    .build()));
  }

  /** Accepts {@code groups} and makes every subchannel READY. */
  LoadBalancer.SubchannelPicker readyPicker(List<EquivalentAddressGroup> groups) {
    accept(groups);
    for (FakeHelper.FakeSubchannel subchannel : helper.createdSubchannels()) {
      subchannel.deliver(ConnectivityState.CONNECTING);
      subchannel.deliver(ConnectivityState.READY);
    }
    if (helper.state() != ConnectivityState.READY) {
      throw new IllegalStateException("not READY: " + helper.state());
    }
    return helper.picker();
  }

  void shutdown() {
    helper.run(balancer::shutdown);
  }

  /** Pick arguments for a unary call. */
  static final class Args extends LoadBalancer.PickSubchannelArgs {
    static final Args INSTANCE = new Args();
    private final Metadata headers = new Metadata();
    private final MethodDescriptor<Void, Void> method =
        MethodDescriptor.<Void, Void>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("bench.Service/Call")
            .setRequestMarshaller(new NullMarshaller())
            .setResponseMarshaller(new NullMarshaller())
            .build();

    @Override
    public CallOptions getCallOptions() {
      return CallOptions.DEFAULT;
    }

    @Override
    public Metadata getHeaders() {
      return headers;
    }

    @Override
    public MethodDescriptor<?, ?> getMethodDescriptor() {
      return method;
    }
  }

  private static final class NullMarshaller implements MethodDescriptor.Marshaller<Void> {
    @Override
    public java.io.InputStream stream(Void value) {
      return java.io.InputStream.nullInputStream();
    }

    @Override
    public Void parse(java.io.InputStream stream) {
      return null;
    }
  }
}
