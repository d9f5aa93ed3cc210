package io.github.kubegrpclb.endpointslice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.k3s.K3sContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * Against a real control plane: a k3s cluster in a container, a headless Service with a named port
 * and a Deployment of two pods, whose EndpointSlices kube-controller-manager writes. Runs wherever
 * a Docker engine exists, with {@code -Pk3s} ({@code mvn -B -pl lb-endpointslice-resolver -am
 * verify -Pk3s}); not in the default suite, since CI has no engine. Without one it fails.
 */
@Testcontainers
class EndpointSliceWithK3sTest {
  @Container
  private static final K3sContainer K3S =
      new K3sContainer(DockerImageName.parse("rancher/k3s:v1.31.4-k3s1"));

  @Test
  void realEndpointSlices_mappedToReadyPodsOnTheNamedTargetPort() {
    try (KubernetesClient client =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(K3S.getKubeConfigYaml()))
            .build()) {
      Map<String, String> labels = Map.of("app", "echo");
      client
          .apps()
          .deployments()
          .inNamespace("default")
          .resource(
              new DeploymentBuilder()
                  .withNewMetadata()
                  .withName("echo")
                  .endMetadata()
                  .withNewSpec()
                  .withReplicas(2)
                  .withNewSelector()
                  .withMatchLabels(labels)
                  .endSelector()
                  .withNewTemplate()
                  .withNewMetadata()
                  .withLabels(labels)
                  .endMetadata()
                  .withNewSpec()
                  .addNewContainer()
                  .withName("echo")
                  .withImage("registry.k8s.io/e2e-test-images/agnhost:2.53")
                  .withArgs("netexec", "--http-port=8080")
                  .addNewPort()
                  .withName("grpc")
                  .withContainerPort(8080)
                  .endPort()
                  .endContainer()
                  .endSpec()
                  .endTemplate()
                  .endSpec()
                  .build())
          .create();
      client
          .services()
          .inNamespace("default")
          .resource(
              new ServiceBuilder()
                  .withNewMetadata()
                  .withName("echo")
                  .endMetadata()
                  .withNewSpec()
                  .withClusterIP("None")
                  .withSelector(labels)
                  .addNewPort()
                  .withName("grpc")
                  .withPort(80)
                  .withTargetPort(new IntOrString("grpc"))
                  .endPort()
                  .endSpec()
                  .build())
          .create();

      try (ServiceWatches.Subscription subscription =
          ServiceWatches.SHARED.subscribe(client, "default", "echo", Duration.ZERO, () -> {})) {
        await()
            .atMost(Duration.ofMinutes(3))
            .until(
                () ->
                    subscription.synced()
                        && EndpointSliceMapper.map(subscription.slices(), "default/echo", "grpc", 0)
                                .getValue()
                                .size()
                            == 2);
        List<java.net.SocketAddress> addresses =
            EndpointSliceMapper.map(subscription.slices(), "default/echo", "grpc", 0)
                .getValue()
                .stream()
                .map(group -> group.getAddresses().get(0))
                .toList();
        assertThat(addresses)
            .allSatisfy(
                address ->
                    assertThat(((java.net.InetSocketAddress) address).getPort()).isEqualTo(8080));
      }
    }
  }
}
