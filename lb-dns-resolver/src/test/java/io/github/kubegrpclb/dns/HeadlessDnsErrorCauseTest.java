package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.LogRecords;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.Status;
import java.time.Duration;
import java.util.logging.Level;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A failing DNS resolution as the user sees it: the status names the target and the failure but
 * carries no cause (grpc-java would log the cause's stack trace with every resolution error); the
 * cause is logged once per distinct failure, at FINE.
 */
class HeadlessDnsErrorCauseTest {
  private static final String HOST = "my-svc.my-ns.svc.cluster.local";

  @RegisterExtension final Cleanup cleanup = new Cleanup();
  private LogRecords causes;

  @BeforeEach
  void recordCauses() {
    causes = cleanup.add(LogRecords.capture(HeadlessDnsNameResolver.CAUSES.getName(), Level.FINE));
  }

  @Test
  void timeout_statusHasNoCause_andTheCauseIsLoggedOnceAtFine() {
    TestDnsServer dns = cleanup.add(TestDnsServer.start());
    dns.setMode(TestDnsServer.Mode.TIMEOUT);
    FakeClockResolver harness =
        cleanup.add(
            FakeClockResolver.start(
                dns,
                HOST + ":50051",
                HeadlessDnsOptions.builder().queryTimeout(Duration.ofMillis(200)).build()));

    harness.awaitResults(1);
    harness.clock.forward(harness.awaitNextDelay()); // the retry fails the same way
    harness.awaitResults(2);

    for (int i = 0; i < 2; i++) {
      Status status = harness.results.get(i).getAddressesOrError().getStatus();
      assertThat(status.getDescription()).contains(HOST, "failed");
      assertThat(status.getCause()).as("%s", status).isNull();
    }
    assertThat(causes.records())
        .filteredOn(r -> r.getLevel() == Level.FINE)
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.getMessage()).contains(HOST);
              assertThat(r.getThrown()).isNotNull();
            });
  }
}
