package io.github.kubegrpclb.endpointslice;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditionsBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.github.kubegrpclb.core.EndpointAttributes;
import io.github.kubegrpclb.core.EndpointCondition;
import io.grpc.EquivalentAddressGroup;
import io.grpc.StatusOr;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EndpointSliceMapperTest {

  @ParameterizedTest
  @CsvSource(
      nullValues = "null",
      value = {
        // ready, serving, terminating -> condition
        "null, null, null, READY",
        "true, true, false, READY",
        "false, true, true, TERMINATING_SERVING",
        "false, false, true, null",
        "false, null, null, null",
        "false, false, false, null",
      })
  void condition_followsTheEndpointSliceApiDefaults(
      Boolean ready, Boolean serving, Boolean terminating, EndpointCondition expected) {
    assertThat(
            EndpointSliceMapper.condition(
                new EndpointConditionsBuilder()
                    .withReady(ready)
                    .withServing(serving)
                    .withTerminating(terminating)
                    .build()))
        .isEqualTo(expected);
  }

  private static EndpointSlice slice(String addressType, String portName, int port, String... ips) {
    EndpointSliceBuilder builder =
        new EndpointSliceBuilder()
            .withNewMetadata()
            .withName("s")
            .endMetadata()
            .withAddressType(addressType)
            .addNewPort()
            .withName(portName)
            .withPort(port)
            .endPort();
    for (String ip : ips) {
      builder.addNewEndpoint().withAddresses(ip).withZone("z1").endEndpoint();
    }
    return builder.build();
  }

  @Test
  void namedPort_resolvedPerSlice_podsWithDifferentTargetPorts() {
    StatusOr<List<EquivalentAddressGroup>> result =
        EndpointSliceMapper.map(
            List.of(
                slice("IPv4", "grpc", 8080, "10.0.0.1"), slice("IPv4", "grpc", 9090, "10.0.0.2")),
            "ns/svc",
            "grpc",
            0);

    assertThat(result.hasValue()).isTrue();
    assertThat(result.getValue())
        .extracting(g -> g.getAddresses().get(0))
        .containsExactly(
            new InetSocketAddress("10.0.0.1", 8080), new InetSocketAddress("10.0.0.2", 9090));
    assertThat(result.getValue().get(0).getAttributes().get(EndpointAttributes.ZONE))
        .isEqualTo("z1");
  }

  @Test
  void ipv6AndFqdnSlices_ipv6KeptFqdnIgnored() {
    StatusOr<List<EquivalentAddressGroup>> result =
        EndpointSliceMapper.map(
            List.of(slice("IPv6", "grpc", 80, "fd00::1"), slice("FQDN", "grpc", 80, "db.example")),
            "ns/svc",
            "grpc",
            0);

    assertThat(result.getValue()).hasSize(1);
  }

  @Test
  void noPortInTarget_singlePortUsed_severalPortsIsAnError() {
    StatusOr<List<EquivalentAddressGroup>> single =
        EndpointSliceMapper.map(List.of(slice("IPv4", "", 7000, "10.0.0.1")), "ns/svc", null, 0);
    assertThat(single.getValue())
        .extracting(EquivalentAddressGroup::getAddresses)
        .containsExactly(List.of(new InetSocketAddress("10.0.0.1", 7000)));

    EndpointSlice twoPorts =
        new EndpointSliceBuilder(slice("IPv4", "grpc", 80, "10.0.0.1"))
            .addNewPort()
            .withName("metrics")
            .withPort(9090)
            .endPort()
            .build();
    StatusOr<List<EquivalentAddressGroup>> several =
        EndpointSliceMapper.map(List.of(twoPorts), "ns/svc", null, 0);
    assertThat(several.getStatus().getDescription()).contains("[grpc, metrics]", "ns/svc");
  }

  @Test
  void sameAddressInTwoSlices_readyWins() {
    EndpointSlice terminating =
        new EndpointSliceBuilder(slice("IPv4", "grpc", 80))
            .addNewEndpoint()
            .withAddresses("10.0.0.1")
            .withConditions(
                new EndpointConditionsBuilder()
                    .withReady(false)
                    .withServing(true)
                    .withTerminating(true)
                    .build())
            .endEndpoint()
            .build();
    StatusOr<List<EquivalentAddressGroup>> result =
        EndpointSliceMapper.map(
            List.of(terminating, slice("IPv4", "grpc", 80, "10.0.0.1")), "ns/svc", "grpc", 0);

    assertThat(result.getValue()).hasSize(1);
    assertThat(EndpointAttributes.conditionOf(result.getValue().get(0)))
        .isEqualTo(EndpointCondition.READY);
  }

  private static EndpointSlice podSlice(String addressType, String... podAndIp) {
    EndpointSliceBuilder builder =
        new EndpointSliceBuilder()
            .withNewMetadata()
            .withName("s-" + addressType)
            .endMetadata()
            .withAddressType(addressType)
            .addNewPort()
            .withName("grpc")
            .withPort(8080)
            .endPort();
    for (int i = 0; i < podAndIp.length; i += 2) {
      builder
          .addNewEndpoint()
          .withAddresses(podAndIp[i + 1])
          .withNewTargetRef()
          .withKind("Pod")
          .withNamespace("ns")
          .withName(podAndIp[i])
          .endTargetRef()
          .withZone("z1")
          .withNodeName("node-" + podAndIp[i])
          .withNewHints()
          .addNewForZone()
          .withName("z1")
          .endForZone()
          .addNewForNode()
          .withName("node-" + podAndIp[i])
          .endForNode()
          .endHints()
          .endEndpoint();
    }
    return builder.build();
  }

  @Test
  void dualStack_ipv4AndIpv6SlicesOfOnePod_oneGroupIpv4First() {
    StatusOr<List<EquivalentAddressGroup>> result =
        EndpointSliceMapper.map(
            List.of(
                podSlice("IPv6", "a", "fd00::1", "b", "fd00::2"),
                podSlice("IPv4", "a", "10.0.0.1", "b", "10.0.0.2")),
            "ns/svc",
            "grpc",
            0);

    assertThat(result.getValue())
        .extracting(EquivalentAddressGroup::getAddresses)
        .containsExactly(
            List.of(
                new InetSocketAddress("10.0.0.1", 8080), new InetSocketAddress("fd00::1", 8080)),
            List.of(
                new InetSocketAddress("10.0.0.2", 8080), new InetSocketAddress("fd00::2", 8080)));
  }

  @Test
  void dualStack_podOnlyInOneFamilyYet_groupWithThatAddress() {
    StatusOr<List<EquivalentAddressGroup>> result =
        EndpointSliceMapper.map(
            List.of(
                podSlice("IPv6", "a", "fd00::1"),
                podSlice("IPv4", "a", "10.0.0.1", "b", "10.0.0.2")),
            "ns/svc",
            "grpc",
            0);

    assertThat(result.getValue())
        .extracting(EquivalentAddressGroup::getAddresses)
        .containsExactly(
            List.of(
                new InetSocketAddress("10.0.0.1", 8080), new InetSocketAddress("fd00::1", 8080)),
            List.of(new InetSocketAddress("10.0.0.2", 8080)));
  }

  @Test
  void nodeHints_carriedWithZoneHints() {
    StatusOr<List<EquivalentAddressGroup>> result =
        EndpointSliceMapper.map(List.of(podSlice("IPv4", "a", "10.0.0.1")), "ns/svc", "grpc", 0);

    EquivalentAddressGroup group = result.getValue().get(0);
    assertThat(EndpointAttributes.nodeHintsOf(group)).containsExactly("node-a");
    assertThat(EndpointAttributes.zoneHintsOf(group)).containsExactly("z1");
  }
}
