package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.kubegrpclb.core.internal.TargetUri;
import io.github.kubegrpclb.dns.HeadlessDnsOptions.AddressFamily;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import java.net.URI;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HeadlessTargetTest {

  private static HeadlessTarget parse(String target) {
    return HeadlessTarget.parse(TargetUri.of(URI.create(target)), HeadlessDnsOptions.defaults());
  }

  @Test
  void parse_numericPort_isThePodPort() {
    HeadlessTarget target = parse("headless:///my-svc.my-ns.svc.cluster.local:50051");

    assertThat(target.host).isEqualTo("my-svc.my-ns.svc.cluster.local");
    assertThat(target.port).isEqualTo(50051);
    assertThat(target.portName).isNull();
    assertThat(target.dnsServer).isNull();
    assertThat(target.family).isEqualTo(AddressFamily.AUTO);
    assertThat(target.policy).isEqualTo("kube_round_robin");
    assertThat(target.serviceAuthority()).isEqualTo("my-svc.my-ns.svc.cluster.local:50051");
  }

  @Test
  void parse_portName_dnsServerAndParameters() {
    HeadlessTarget target =
        parse("headless://127.0.0.1:5353/my-svc:grpc?family=both&policy=peak_ewma");

    assertThat(target.portName).isEqualTo("grpc");
    assertThat(target.dnsServer.getPort()).isEqualTo(5353);
    assertThat(target.dnsServer.getAddress().getHostAddress()).isEqualTo("127.0.0.1");
    assertThat(target.family).isEqualTo(AddressFamily.BOTH);
    assertThat(target.policy).isEqualTo("peak_ewma");
    assertThat(target.serviceAuthority()).isEqualTo("my-svc");
  }

  @Test
  void parse_portNameOf63Characters_isADnsLabel() {
    String name = "grpc-internal-api-" + "x".repeat(45);

    assertThat(parse("headless:///my-svc:grpc-internal-api").portName)
        .isEqualTo("grpc-internal-api");
    assertThat(parse("headless:///my-svc:" + name).portName).isEqualTo(name);
    assertThatThrownBy(() -> parse("headless:///my-svc:" + name + "x"))
        .hasMessageContaining("at most 63 characters");
  }

  @Test
  void parse_emptyParameters_ignored() {
    HeadlessTarget target = parse("headless:///my-svc:grpc?family=ipv4&&policy=peak_ewma&");

    assertThat(target.family).isEqualTo(AddressFamily.IPV4);
    assertThat(target.policy).isEqualTo("peak_ewma");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "headless:///my-svc.my-ns.svc.cluster.local | no port",
        "headless:///my-svc:0 | port 0",
        "headless:///my-svc:70000 | port 70000",
        "headless:///my-svc:Grpc_Port | neither a port number",
        "headless:///my_svc!:80 | not a DNS name",
        "headless://dns.example.com/my-svc:80 | must be an IP address",
        "headless:///my-svc:80?family=ipv5 | family=ipv5",
        "headless:///my-svc:80?policy=fastest | policy=fastest is not a registered",
        "headless:///my-svc:80?timeout=1s | unknown parameter 'timeout'",
      })
  void parse_malformedTarget_errorNamesTheProblemAndTheExpectedForm(String target, String problem) {
    assertThatThrownBy(() -> parse(target))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(target)
        .hasMessageContaining(problem)
        .hasMessageContaining("expected headless://");
  }

  @Test
  void channelBuild_malformedTarget_failsAtCreationWithTheExpectedForm() {
    assertThatThrownBy(
            () ->
                Grpc.newChannelBuilder(
                        "headless:///my-svc.my-ns", InsecureChannelCredentials.create())
                    .build())
        .hasMessageContaining("no port")
        .hasMessageContaining("headless:///my-svc.my-ns.svc.cluster.local:grpc");
  }
}
