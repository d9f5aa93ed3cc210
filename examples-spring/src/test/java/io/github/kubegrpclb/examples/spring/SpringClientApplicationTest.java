package io.github.kubegrpclb.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.TestDnsServer;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.grpc.client.GrpcChannelFactory;

/** Smoke test: the Spring client balances per RPC with nothing but a property changed. */
class SpringClientApplicationTest {

  @Test
  void headlessTargetInProperties_rpcsSpreadOverEveryPod() {
    try (TestDnsServer dns = TestDnsServer.start();
        LoopbackPods pods = LoopbackPods.start(3)) {
      dns.setA("greeter.demo.svc.cluster.local", 5, "127.0.0.11", "127.0.0.12", "127.0.0.13");
      String address =
          "headless://" + dns.authority() + "/greeter.demo.svc.cluster.local:" + pods.port();
      try (ConfigurableApplicationContext context =
          new SpringApplicationBuilder(SpringClientApplication.class)
              .run("--spring.grpc.client.channels.greeter.address=" + address)) {
        Map<String, Integer> perPod =
            SpringClientApplication.callGreeter(context.getBean(GrpcChannelFactory.class), 300);

        assertThat(perPod).containsOnlyKeys("pod-0", "pod-1", "pod-2");
        assertThat(perPod.values()).allSatisfy(count -> assertThat(count).isBetween(90, 110));
      }
    }
  }
}
