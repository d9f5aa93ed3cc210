package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.RpcLoad;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.xbill.DNS.ResolverConfig;

/**
 * {@code headless:///} with the system's nameservers (no DNS server in the target): dnsjava reads
 * them from its {@code dns.server} property before /etc/resolv.conf, which lets a test give a
 * channel two real servers, the first of them dead.
 */
class SystemNameserversTest {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private final String savedServers = System.getProperty("dns.server");

  @AfterEach
  void restoreSystemConfig() {
    if (savedServers == null) {
      System.clearProperty("dns.server");
    } else {
      System.setProperty("dns.server", savedServers);
    }
    ResolverConfig.refresh();
  }

  @Test
  void firstNameserverDead_secondAnswersWithinOneResolution_firstRpcSucceeds() {
    TestDnsServer dead = cleanup.add(TestDnsServer.start());
    dead.setMode(TestDnsServer.Mode.TIMEOUT);
    TestDnsServer alive = cleanup.add(TestDnsServer.start());
    LoopbackPods pods = cleanup.add(LoopbackPods.start(2));
    alive.setA(
        HOST,
        30,
        pods.all().stream()
            .map(p -> p.address().getAddress().getHostAddress())
            .toArray(String[]::new));
    System.setProperty("dns.server", dead.authority() + "," + alive.authority());
    ResolverConfig.refresh();

    ManagedChannel channel =
        cleanup.channel(
            Grpc.newChannelBuilder(
                    "headless:///" + HOST + ":" + pods.port(), InsecureChannelCredentials.create())
                .setNameResolverArg(
                    HeadlessDnsOptions.KEY,
                    HeadlessDnsOptions.builder().queryTimeout(Duration.ofMillis(500)).build())
                .build());
    RpcLoad.Result result = RpcLoad.run(channel, 1, 1, CallOptions.DEFAULT); // fail-fast

    assertThat(result.failures()).as("%s", result).isZero();
    assertThat(dead.udpQueries()).isPositive();
    assertThat(alive.udpQueries()).isPositive();
  }
}
