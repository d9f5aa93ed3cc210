package io.github.kubegrpclb.endpointslice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.github.kubegrpclb.testing.LogRecords;
import io.github.kubegrpclb.testing.RpcLoad;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a user sees of a failing EndpointSlice watch: the RPC's status names the problem and the fix
 * without a cause (grpc-java would log the cause's stack trace with every resolution error), and
 * the cause is logged once, at FINE.
 */
class ResolutionErrorCauseTest {
  private static final String LIST =
      "/apis/discovery.k8s.io/v1/namespaces/my-ns/endpointslices?"
          + "labelSelector=kubernetes.io%2Fservice-name%3Dmy-svc&resourceVersion=0";

  private LogRecords causes;
  private LogRecords channelLog;
  private KubernetesMockServer server;
  private KubernetesClient client;
  private ManagedChannel channel;

  @BeforeEach
  void start() {
    causes = LogRecords.capture(EndpointSliceNameResolver.CAUSES.getName(), Level.FINE);
    channelLog = LogRecords.capture("io.grpc.internal.ManagedChannelImpl", Level.INFO);
    server = new KubernetesMockServer(false);
    server.init();
    client = server.createClient();
  }

  @AfterEach
  void stop() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    client.close();
    server.destroy();
    causes.close();
    channelLog.close();
  }

  @Test
  void forbidden_statusKeepsTheMessageWithoutCause_andTheCauseIsLoggedOnceAtFine() {
    server
        .expect()
        .get()
        .withPath(LIST)
        .andReturn(
            403,
            new StatusBuilder()
                .withCode(403)
                .withReason("Forbidden")
                .withMessage("endpointslices.discovery.k8s.io is forbidden")
                .build())
        .always();
    channel =
        Grpc.newChannelBuilder(
                "kubernetes:///my-svc.my-ns:grpc", InsecureChannelCredentials.create())
            .setNameResolverArg(
                EndpointSliceOptions.KEY, EndpointSliceOptions.builder().client(client).build())
            .build();

    // Until the 403 arrives (a loaded machine may pass the first-answer timeout) RPCs fail with
    // "no answer from the API server"; then with the RBAC message. Several RPCs: several retries.
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              Status status =
                  RpcLoad.run(channel, 1, 1, CallOptions.DEFAULT).failureSamples().get(0);
              assertThat(status.getDescription()).contains("403", "get, list and watch");
              assertThat(status.getCause()).isNull();
            });
    for (int i = 0; i < 5; i++) {
      Status status = RpcLoad.run(channel, 1, 1, CallOptions.DEFAULT).failureSamples().get(0);
      assertThat(status.getCause()).as("%s", status).isNull();
    }

    List<LogRecord> fine =
        causes.records().stream()
            .filter(r -> r.getLevel() == Level.FINE && r.getThrown() != null)
            .filter(r -> r.getMessage().contains("403"))
            .toList();
    assertThat(fine).hasSize(1);
    assertThat(fine.get(0).getThrown())
        .satisfiesAnyOf(
            t -> assertThat(t).isInstanceOf(KubernetesClientException.class),
            t -> assertThat(t).hasCauseInstanceOf(KubernetesClientException.class));
    assertThat(channelLog.records())
        .as("grpc-java's own log lines carry no stack trace")
        .filteredOn(r -> r.getLoggerName().startsWith("io.grpc"))
        .allSatisfy(r -> assertThat(r.getThrown()).isNull())
        .allSatisfy(
            r ->
                assertThat(
                        String.valueOf(r.getParameters() == null ? "" : List.of(r.getParameters())))
                    .doesNotContain("\tat "));
  }
}
