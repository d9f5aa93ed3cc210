package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.BindDnsServer;
import io.github.kubegrpclb.testing.TestDnsServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * The BIND fixture the tests above rely on: the server it hands out is its own named, even when the
 * port it drew is taken by another DNS server before named binds it. Skipped where BIND is missing;
 * fails in CI.
 */
class BindDnsServerTest {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";

  @Test
  void portTakenByAnotherDnsServer_namedStartsOnANewPort_andServesTheUpdates() throws Exception {
    try (TestDnsServer impostor = TestDnsServer.start()) {
      // Answers for the zone, as another test's named on a colliding port would.
      impostor.setA("cluster.local", 30, "127.0.0.1");
      impostor.setA(HOST, 30, "127.0.0.99");
      int taken = impostor.address().getPort();
      List<Integer> drawn = new ArrayList<>();

      try (BindDnsServer bind =
          BindDnsServer.start(
              () -> {
                int port = drawn.isEmpty() ? taken : freePort();
                drawn.add(port);
                return port;
              })) {
        bind.setA(HOST, 30, "127.0.0.11");

        assertThat(drawn).hasSizeGreaterThanOrEqualTo(2).startsWith(taken);
        assertThat(bind.port()).isNotEqualTo(taken).isEqualTo(drawn.get(drawn.size() - 1));
        assertThat(addresses(bind.port())).containsExactly("127.0.0.11");
        assertThat(addresses(taken)).as("the impostor is untouched").containsExactly("127.0.0.99");
      }
    }
  }

  private static List<String> addresses(int port) throws IOException {
    SimpleResolver resolver =
        new SimpleResolver(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    resolver.setTimeout(Duration.ofSeconds(2));
    Message answer =
        resolver.send(
            Message.newQuery(Record.newRecord(Name.fromString(HOST + "."), Type.A, DClass.IN)));
    assertThat(answer.getRcode()).isEqualTo(Rcode.NOERROR);
    return answer.getSection(Section.ANSWER).stream()
        .filter(ARecord.class::isInstance)
        .map(r -> ((ARecord) r).getAddress().getHostAddress())
        .toList();
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
