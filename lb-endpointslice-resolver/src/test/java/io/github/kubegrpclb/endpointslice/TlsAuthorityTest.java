package io.github.kubegrpclb.endpointslice;

import static io.github.kubegrpclb.testing.MockKubernetesApi.slice;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.MockKubernetesApi;
import io.github.kubegrpclb.testing.MockKubernetesApi.Pod;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.TestCertificates;
import io.github.kubegrpclb.testing.TlsPods;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Item 8 of issue 10: real TLS, the client verifying host names against certificates made at test
 * time. The channel authority is the host as the target wrote it, so a certificate for the name the
 * user wrote works; each target form needs the matching subject alternative name.
 */
class TlsAuthorityTest {
  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private final TestCertificates ca = TestCertificates.newAuthority();
  private MockKubernetesApi api;

  @BeforeEach
  void start() {
    api = cleanup.add(new MockKubernetesApi());
  }

  /** Two TLS pods with a certificate for exactly {@code dnsName}, listed in the Service's slice. */
  private void podsWithCertificateFor(String dnsName) {
    TlsPods pods = cleanup.add(TlsPods.start(2, ca.serverCredentials(List.of(dnsName))));
    api.apply(
        slice(
            "my-svc-a",
            Map.of("grpc", pods.port()),
            Pod.ready(TlsPods.name(0), pods.ip(0)),
            Pod.ready(TlsPods.name(1), pods.ip(1))));
  }

  private ManagedChannel channel(String target) {
    return cleanup.channel(
        Grpc.newChannelBuilder(target, ca.clientCredentials())
            .setNameResolverArg(
                EndpointSliceOptions.KEY,
                EndpointSliceOptions.builder()
                    .client(api.clientInNamespace(MockKubernetesApi.NAMESPACE))
                    .build())
            .build());
  }

  private RpcLoad.Result failFastRpcs(String target, int calls) {
    ManagedChannel channel = channel(target);
    ChannelReadiness.awaitEveryPod(channel, List.of(TlsPods.name(0), TlsPods.name(1)));
    return RpcLoad.run(channel, calls, 1, CallOptions.DEFAULT);
  }

  @ParameterizedTest(name = "{0} verifies a certificate for {1}")
  @CsvSource({
    // the name as cert-manager's dnsNames list them for a Service
    "kubernetes:///my-svc.my-ns.svc.cluster.local:grpc, my-svc.my-ns.svc.cluster.local",
    "kubernetes:///my-svc.my-ns.svc:grpc, my-svc.my-ns.svc",
    "kubernetes:///my-svc.my-ns:grpc, my-svc.my-ns",
    "kubernetes://my-ns/my-svc:grpc, my-svc.my-ns",
    "kubernetes:///my-svc:grpc, my-svc",
  })
  void certificateForTheHostAsWritten_everyRpcSucceeds(String target, String dnsName) {
    podsWithCertificateFor(dnsName);

    RpcLoad.Result result = failFastRpcs(target, 100);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).containsOnlyKeys("pod-0", "pod-1");
  }

  @Test
  void certificateForAnotherName_rpcsFail_hostNamesAreVerified() {
    podsWithCertificateFor("my-svc.my-ns.svc.cluster.local");
    ManagedChannel channel = channel("kubernetes:///my-svc.my-ns:grpc");

    RpcLoad.Result result = RpcLoad.run(channel, 1, 1, CallOptions.DEFAULT);

    assertThat(result.failures()).as("%s", result).isEqualTo(1);
    TlsPods.assertHostNameRejected(result.failureSamples().get(0), "my-svc.my-ns");
  }
}
