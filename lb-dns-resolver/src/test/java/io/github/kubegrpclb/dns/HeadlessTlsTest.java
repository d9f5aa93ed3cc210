package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.ChannelReadiness;
import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.TestCertificates;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.github.kubegrpclb.testing.TlsPods;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Real TLS through {@code headless:///} (item 8 of issue 10): the client verifies host names
 * against certificates made at test time; the channel authority is the host as written, so the
 * certificate needs that name, for fully qualified and short (search-path) targets alike.
 */
class HeadlessTlsTest {
  private static final String FQDN = "my-svc.my-ns.svc.cluster.local";

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private final TestCertificates ca = TestCertificates.newAuthority();
  private TestDnsServer dns;

  @BeforeEach
  void startDns() {
    dns = cleanup.add(TestDnsServer.start());
  }

  /** Two TLS pods with a certificate for exactly {@code dnsName}, in the Service's A record. */
  private TlsPods podsWithCertificateFor(String dnsName) {
    TlsPods pods = cleanup.add(TlsPods.start(2, ca.serverCredentials(List.of(dnsName))));
    dns.setA(FQDN, 30, pods.ip(0), pods.ip(1));
    return pods;
  }

  private ManagedChannel channel(String host, TlsPods pods) {
    String target = "headless://" + dns.authority() + "/" + host + ":" + pods.port();
    return cleanup.channel(
        Grpc.newChannelBuilder(target, ca.clientCredentials())
            .setNameResolverArg(
                HeadlessDnsOptions.KEY,
                HeadlessDnsOptions.builder()
                    // as a pod in my-ns: <ns>.svc.<zone>, svc.<zone>, <zone>
                    .searchPath(
                        List.of("my-ns.svc.cluster.local", "svc.cluster.local", "cluster.local"))
                    .ndots(5)
                    .build())
            .build());
  }

  @ParameterizedTest(name = "{0} verifies a certificate for {1}")
  @CsvSource({
    FQDN + ", " + FQDN,
    "my-svc.my-ns.svc, my-svc.my-ns.svc",
    "my-svc.my-ns, my-svc.my-ns",
    "my-svc, my-svc",
  })
  void certificateForTheHostAsWritten_everyRpcSucceeds(String host, String dnsName) {
    TlsPods pods = podsWithCertificateFor(dnsName);
    ManagedChannel channel = channel(host, pods);
    ChannelReadiness.awaitEveryPod(channel, pods.names());

    RpcLoad.Result result = RpcLoad.run(channel, 100, 1, CallOptions.DEFAULT);

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(result.perPod()).containsOnlyKeys("pod-0", "pod-1");
  }

  @Test
  void certificateForAnotherName_rpcsFail_hostNamesAreVerified() {
    TlsPods pods = podsWithCertificateFor(FQDN);
    ManagedChannel channel = channel("my-svc.my-ns", pods);

    RpcLoad.Result result = RpcLoad.run(channel, 1, 1, CallOptions.DEFAULT);

    assertThat(result.failures()).as("%s", result).isEqualTo(1);
    TlsPods.assertHostNameRejected(result.failureSamples().get(0), "my-svc.my-ns");
  }
}
