package io.github.kubegrpclb.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.kubegrpclb.core.EndpointAttributes;
import io.github.kubegrpclb.core.internal.ResolverObserver;
import io.github.kubegrpclb.core.internal.TargetUri;
import io.github.kubegrpclb.testing.FakeClock;
import io.github.kubegrpclb.testing.RecordingChannelLogger;
import io.github.kubegrpclb.testing.RecordingListener;
import io.github.kubegrpclb.testing.TestDnsServer;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver.ResolutionResult;
import io.grpc.SynchronizationContext;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.lookup.LookupSession;

/**
 * A {@link HeadlessDnsNameResolver} asking a real {@link TestDnsServer}, with its timers on a
 * {@link FakeClock} (DNS answers take real time; the resolver's schedule is driven by hand) and a
 * real SynchronizationContext whose uncaught errors fail the test at {@link #close}. Records every
 * result.
 *
 * <p>Drive it from the test thread.
 */
final class FakeClockResolver implements AutoCloseable {
  final FakeClock clock = new FakeClock();
  private final RecordingListener listener = new RecordingListener();
  final List<ResolutionResult> results = listener.results();
  private final AtomicReference<Throwable> syncError = new AtomicReference<>();
  final SynchronizationContext syncContext = new SynchronizationContext((t, e) -> syncError.set(e));
  final HeadlessDnsNameResolver resolver;
  private final ExecutorService executor = Executors.newCachedThreadPool();

  final RecordingChannelLogger logger = new RecordingChannelLogger();

  private FakeClockResolver(TestDnsServer dns, String hostPort, HeadlessDnsOptions options) {
    String text = "headless://" + dns.authority() + "/" + hostPort;
    HeadlessTarget target = HeadlessTarget.parse(TargetUri.of(URI.create(text)), options);
    TcpFallbackResolver simple =
        new TcpFallbackResolver(
            new SimpleResolver(target.dnsServer), new SimpleResolver(target.dnsServer));
    simple.setTimeout(options.queryTimeout());
    resolver =
        new HeadlessDnsNameResolver(
            target,
            options,
            new DnsLookup(simple, LookupSession.builder(), executor),
            null,
            syncContext,
            clock.scheduler(),
            clock.ticker(),
            () -> 0.5,
            logger,
            // As the provider does: the options' telemetry, the target as written.
            new ResolverObserver(options.telemetry(), text, "headless", clock.ticker()));
  }

  /** Starts a resolver for {@code headless://<dns>/<hostPort>}. */
  static FakeClockResolver start(TestDnsServer dns, String hostPort, HeadlessDnsOptions options) {
    FakeClockResolver harness = new FakeClockResolver(dns, hostPort, options);
    harness.syncContext.execute(() -> harness.resolver.start(harness.listener));
    return harness;
  }

  /** Waits (5 s at most) until {@code count} results arrived, and returns the latest. */
  ResolutionResult awaitResults(int count) {
    return awaitResults(count, Duration.ofSeconds(5));
  }

  /** Waits until {@code count} results arrived, and returns the latest. */
  ResolutionResult awaitResults(int count, Duration timeout) {
    await().atMost(timeout).until(() -> results.size() >= count);
    return results.get(results.size() - 1);
  }

  /** Waits until the resolver has its next timer armed (the answer was processed). */
  Duration awaitNextDelay() {
    await().atMost(Duration.ofSeconds(5)).until(() -> clock.pendingTasks() == 1);
    return clock.pendingDelays().get(0);
  }

  /** Waits until the next timer is armed and is not {@code previous}, and returns it. */
  Duration awaitNextDelayOtherThan(Duration previous) {
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> clock.pendingTasks() == 1 && !clock.pendingDelays().get(0).equals(previous));
    return clock.pendingDelays().get(0);
  }

  static List<EquivalentAddressGroup> addresses(ResolutionResult result) {
    return result.getAddressesOrError().getValue();
  }

  /** The addresses of {@code result} as {@code ip:port} strings, in order. */
  static List<String> hostPorts(ResolutionResult result) {
    return addresses(result).stream()
        .map(
            group -> {
              InetSocketAddress address = (InetSocketAddress) group.getAddresses().get(0);
              return address.getAddress().getHostAddress() + ":" + address.getPort();
            })
        .collect(Collectors.toList());
  }

  static String note(ResolutionResult result) {
    return result.getAttributes().get(EndpointAttributes.RESOLUTION_NOTE);
  }

  @Override
  public void close() {
    syncContext.execute(resolver::shutdown);
    executor.shutdownNow();
    assertThat(syncError.get()).isNull();
  }
}
