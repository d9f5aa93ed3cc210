package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.kubegrpclb.testing.Cleanup;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
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
  private final List<LogRecord> records = new CopyOnWriteArrayList<>();
  private final Handler recorder =
      new Handler() {
        @Override
        public void publish(LogRecord record) {
          records.add(record);
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };
  private final Logger causes = HeadlessDnsNameResolver.CAUSES;
  private Level causesLevel;

  @BeforeEach
  void recordCauses() {
    causesLevel = causes.getLevel();
    causes.setLevel(Level.FINE);
    causes.addHandler(recorder);
  }

  @AfterEach
  void stopRecording() {
    causes.removeHandler(recorder);
    causes.setLevel(causesLevel);
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
    assertThat(records)
        .filteredOn(r -> r.getLevel() == Level.FINE)
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.getMessage()).contains(HOST);
              assertThat(r.getThrown()).isNotNull();
            });
  }
}
