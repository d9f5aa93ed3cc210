package io.github.kubegrpclb.endpointslice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.kubegrpclb.core.internal.TargetUri;
import java.net.URI;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class KubernetesTargetTest {

  private static KubernetesTarget parse(String text) {
    return KubernetesTarget.parse(TargetUri.of(URI.create(text)), EndpointSliceOptions.defaults());
  }

  @ParameterizedTest
  @CsvSource(
      nullValues = "null",
      value = {
        "kubernetes:///my-svc.my-ns:grpc, my-svc, my-ns, grpc, 0",
        "kubernetes:///my-svc.my-ns:50051, my-svc, my-ns, null, 50051",
        "kubernetes:///my-svc:grpc, my-svc, null, grpc, 0",
        "kubernetes://my-ns/my-svc:grpc, my-svc, my-ns, grpc, 0",
        "kubernetes:///my-svc.my-ns.svc.cluster.local:grpc, my-svc, my-ns, grpc, 0",
        "kubernetes:///my-svc.my-ns, my-svc, my-ns, null, 0",
        "kubernetes:///my-svc.my-ns:grpc-internal-api, my-svc, my-ns, grpc-internal-api, 0",
      })
  void parse_kuberesolverForms(
      String text, String service, String namespace, String portName, int portNumber) {
    KubernetesTarget target = parse(text);

    assertThat(target.service).isEqualTo(service);
    assertThat(target.namespace).isEqualTo(namespace);
    assertThat(target.portName).isEqualTo(portName);
    assertThat(target.portNumber).isEqualTo(portNumber);
    assertThat(target.policy).isEqualTo("kube_round_robin");
  }

  @ParameterizedTest
  @CsvSource({
    "kubernetes:///my-svc.my-ns.svc.cluster.local:grpc, my-svc.my-ns.svc.cluster.local",
    "kubernetes:///my-svc.my-ns.svc.cluster.local.:grpc, my-svc.my-ns.svc.cluster.local",
    "kubernetes:///my-svc.my-ns.svc:grpc, my-svc.my-ns.svc",
    "kubernetes:///my-svc.my-ns:grpc, my-svc.my-ns",
    "kubernetes:///my-svc:grpc, my-svc",
    "kubernetes://my-ns/my-svc:grpc, my-svc.my-ns",
    "kubernetes:///my-svc.my-ns:50051, my-svc.my-ns:50051",
    "kubernetes:///my-svc.my-ns.svc.cluster.local, my-svc.my-ns.svc.cluster.local",
  })
  void authority_isTheHostAsWritten_plusANumericPort(String text, String authority) {
    assertThat(parse(text).authority()).isEqualTo(authority);
  }

  @Test
  void parse_parameters() {
    KubernetesTarget target = parse("kubernetes:///my-svc.my-ns:grpc?policy=peak_ewma&zone=eu-1a");

    assertThat(target.policy).isEqualTo("peak_ewma");
    assertThat(target.zone).isEqualTo("eu-1a");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "kubernetes:/// | no service",
        "kubernetes:///My_Svc.my-ns:grpc | not a Service name",
        "kubernetes:///my-svc.my-ns:99999 | port 99999",
        "kubernetes://other/my-svc.my-ns:grpc | namespace is given twice",
        "kubernetes:///my-svc.my-ns:grpc?lb=x | unknown parameter 'lb'",
        "kubernetes:///my-svc.my-ns:grpc?policy=nope | policy=nope",
        "kubernetes:///my-svc.my-ns.svcfoo:grpc | is not <service>.<namespace>[.svc",
        "kubernetes:///my-svc.my-ns.svcfoo.cluster.local:grpc | is not <service>.<namespace>",
      })
  void parse_malformed_errorNamesTheProblemAndTheExpectedForm(String text, String problem) {
    assertThatThrownBy(() -> parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(problem)
        .hasMessageContaining("expected kubernetes:///");
  }
}
