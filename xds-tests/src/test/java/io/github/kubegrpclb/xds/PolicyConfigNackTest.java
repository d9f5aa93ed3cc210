package io.github.kubegrpclb.xds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What the client does with policy configs from the control plane: a config our provider rejects is
 * NACKed with our message as the error detail while the last good Cluster keeps serving; a policy
 * the client lacks is skipped for the next one in the Cluster's list (gRFC A52).
 */
class PolicyConfigNackTest {
  private static final String CLUSTER_TYPE_URL =
      "type.googleapis.com/envoy.config.cluster.v3.Cluster";

  private final XdsControlPlane controlPlane = XdsControlPlane.shared();

  @RegisterExtension final Cleanup cleanup = new Cleanup();

  private LoopbackPods pods;

  private ManagedChannel serve(Cluster cluster) {
    pods = cleanup.add(LoopbackPods.start(3));
    controlPlane.clearNacks();
    controlPlane.serveEcho(cluster, EchoResources.endpoints(pods.all()));
    ManagedChannel channel = cleanup.channel(EchoClients.newChannel());
    EchoClients.awaitFirstRpc(channel);
    return channel;
  }

  private DiscoveryRequest awaitClusterNack() {
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                controlPlane.nacks().stream()
                    .anyMatch(nack -> nack.getTypeUrl().equals(CLUSTER_TYPE_URL)));
    return controlPlane.nacks().stream()
        .filter(nack -> nack.getTypeUrl().equals(CLUSTER_TYPE_URL))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void badPeakEwmaConfig_isNackedNamingFieldAndValue_andLastGoodConfigKeepsServing() {
    ManagedChannel channel =
        serve(EchoResources.cluster(EchoResources.customPolicy("peak_ewma", "{}")));

    try (RpcLoad load = RpcLoad.start(channel, 2, CallOptions.DEFAULT)) {
      controlPlane.serveEcho(
          EchoResources.cluster(EchoResources.customPolicy("peak_ewma", "{\"choiceCount\": 11}")),
          EchoResources.endpoints(pods.all()));
      DiscoveryRequest nack = awaitClusterNack();
      long afterNack = load.snapshot().succeeded();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> load.snapshot().succeeded() > afterNack + 1000);

      System.out.println("NACK error_detail: " + nack.getErrorDetail().getMessage());
      assertThat(nack.getErrorDetail().getMessage())
          .contains("'" + EchoResources.CLUSTER + "'")
          .contains("peak_ewma config field 'choiceCount': got 11")
          .contains("(expected: an integer in [2, 10])");
      assertThat(load.snapshot().failures()).as("%s", load.snapshot()).isZero();
      assertThat(load.snapshot().perPod()).containsOnlyKeys("pod-0", "pod-1", "pod-2");
    }
  }

  @Test
  void unknownKubeRoundRobinField_isNackedWithTheFieldsItTakes() {
    serve(EchoResources.cluster(EchoResources.customPolicy("kube_round_robin", "{}")));

    controlPlane.serveEcho(
        EchoResources.cluster(EchoResources.customPolicy("kube_round_robin", "{\"zone\": \"a\"}")),
        EchoResources.endpoints(pods.all()));

    assertThat(awaitClusterNack().getErrorDetail().getMessage())
        .contains(
            "kube_round_robin config: unknown field 'zone' (expected one of [outlierEjection, slowStart, streamRebalancing, subsetting, zoneSpill])");
  }

  @Test
  void policyTheClientLacks_isSkippedForTheNextInTheList() {
    ManagedChannel channel =
        serve(
            EchoResources.cluster(
                EchoResources.customPolicy("policy_this_client_lacks", "{}"),
                EchoResources.customPolicy("kube_round_robin", "{}")));
    pods.resetCounters();

    RpcLoad.Result result = RpcLoad.run(channel, 3000, 2, CallOptions.DEFAULT);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.maxMinRatio(List.of("pod-0", "pod-1", "pod-2"))).isLessThanOrEqualTo(1.05);
    assertThat(controlPlane.nacks()).isEmpty();
  }
}
