package io.github.kubegrpclb.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.examples.spring.greeter.GreeterGrpc;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/** The Spring client balances per RPC with its own generated stub and the shipped properties. */
class SpringClientApplicationTest {

  @Test
  void headlessTargetInProperties_rpcsSpreadOverEveryPod() throws Exception {
    List<Server> servers = new ArrayList<>();
    try (TestDnsServer dns = TestDnsServer.start()) {
      int port = startPods(servers, 3);
      dns.setA("greeter.demo.svc.cluster.local", 5, "127.0.0.11", "127.0.0.12", "127.0.0.13");
      String address = "headless://" + dns.authority() + "/greeter.demo.svc.cluster.local:" + port;
      try (ConfigurableApplicationContext context =
          new SpringApplicationBuilder(SpringClientApplication.class)
              .run(
                  "--spring.grpc.client.channels.greeter.address=" + address,
                  "--greeter.calls=3")) {
        Map<String, Integer> perPod =
            SpringClientApplication.callGreeter(
                context.getBean(GreeterGrpc.GreeterBlockingStub.class), 300);

        assertThat(perPod).containsOnlyKeys("pod-0", "pod-1", "pod-2");
        assertThat(perPod.values()).allSatisfy(count -> assertThat(count).isBetween(90, 110));
      }
    } finally {
      for (Server server : servers) {
        server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  /** Starts {@code count} Greeter pods on 127.0.0.11, .12 ... on one free port; returns it. */
  private static int startPods(List<Server> servers, int count) throws IOException {
    int port = 0;
    for (int i = 0; i < count; i++) {
      Server server =
          NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0." + (11 + i), port))
              .addService(new GreeterService("pod-" + i))
              .build()
              .start();
      servers.add(server);
      port = server.getPort();
    }
    return port;
  }
}
