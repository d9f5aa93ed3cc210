package io.github.kubegrpclb.xds;

import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** Client side of {@code xds:///echo}: channels as an application makes them. Stateless. */
final class EchoClients {
  /**
   * How long a new channel may take to its first answer: class loading of the xDS stack, four
   * resource round trips and the connections, on a loaded 2-core machine.
   */
  private static final Duration FIRST_RPC_TIMEOUT = Duration.ofSeconds(60);

  private EchoClients() {}

  /** A channel to {@code xds:///echo}, configured by whatever the control plane serves. */
  static ManagedChannel newChannel() {
    return Grpc.newChannelBuilder(EchoResources.TARGET, InsecureChannelCredentials.create())
        .build();
  }

  /**
   * Waits until the channel is READY, then makes one fail-fast RPC, so the measurements that follow
   * start on a configured channel; returns the pod that answered.
   */
  static String awaitFirstRpc(ManagedChannel channel) {
    ChannelReadiness.awaitReady(channel, FIRST_RPC_TIMEOUT);
    return PodService.whoami(
        channel,
        CallOptions.DEFAULT.withDeadlineAfter(
            RpcLoad.CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS));
  }
}
