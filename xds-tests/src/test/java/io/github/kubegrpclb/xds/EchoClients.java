package io.github.kubegrpclb.xds;

import io.github.kubegrpclb.testing.PodService;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.util.concurrent.TimeUnit;

/** Client side of {@code xds:///echo}: channels as an application makes them. Stateless. */
final class EchoClients {
  /**
   * How long a new channel may take to its first answer: class loading of the xDS stack, four
   * resource round trips and the connections, on a loaded 2-core machine.
   */
  private static final long FIRST_RPC_DEADLINE_SECONDS = 60;

  private EchoClients() {}

  /** A channel to {@code xds:///echo}, configured by whatever the control plane serves. */
  static ManagedChannel newChannel() {
    return Grpc.newChannelBuilder(EchoResources.TARGET, InsecureChannelCredentials.create())
        .build();
  }

  /**
   * Makes one wait-for-ready RPC, so the measurements that follow start on a configured channel and
   * every later RPC can be fail-fast; returns the pod that answered.
   */
  static String awaitFirstRpc(ManagedChannel channel) {
    return PodService.whoami(
        channel,
        CallOptions.DEFAULT
            .withWaitForReady()
            .withDeadlineAfter(FIRST_RPC_DEADLINE_SECONDS, TimeUnit.SECONDS));
  }
}
