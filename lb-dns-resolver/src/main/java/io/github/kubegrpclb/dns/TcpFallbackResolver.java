package io.github.kubegrpclb.dns;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.xbill.DNS.EDNSOption;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.TSIG;

/**
 * Sends each query over UDP and, when the answer comes back truncated (TC flag: too large for a
 * datagram, e.g. the SRV records of a large headless Service), repeats it over TCP, counting each
 * such fallback. dnsjava's SimpleResolver makes the same fallback on its own but tells no one (its
 * forced-TCP send is package-private, and there is no listener), so here the UDP resolver ignores
 * truncation and a twin set to TCP takes the repeat.
 *
 * <p>Thread-safe if the two resolvers are (dnsjava's are once configured).
 */
final class TcpFallbackResolver implements Resolver {
  private final Resolver udp;
  private final Resolver tcp;
  private final AtomicLong fallbacks = new AtomicLong();
  private volatile boolean ignoreTruncation;

  /** Over {@code udp} and {@code tcp}, two resolvers asking the same servers. */
  TcpFallbackResolver(Resolver udp, Resolver tcp) {
    this.udp = udp;
    this.tcp = tcp;
    udp.setIgnoreTruncation(true);
    tcp.setTCP(true);
  }

  /** Returns and resets the number of queries repeated over TCP since the last call. */
  long takeFallbacks() {
    return fallbacks.getAndSet(0);
  }

  @Override
  public CompletionStage<Message> sendAsync(Message query) {
    return udp.sendAsync(query)
        .thenCompose(
            answer -> truncated(answer) ? overTcp(() -> tcp.sendAsync(query)) : done(answer));
  }

  @Override
  public CompletionStage<Message> sendAsync(Message query, Executor executor) {
    return udp.sendAsync(query, executor)
        .thenCompose(
            answer ->
                truncated(answer) ? overTcp(() -> tcp.sendAsync(query, executor)) : done(answer));
  }

  private boolean truncated(Message answer) {
    return !ignoreTruncation && answer.getHeader().getFlag(Flags.TC);
  }

  private CompletionStage<Message> overTcp(Supplier<CompletionStage<Message>> send) {
    fallbacks.incrementAndGet();
    return send.get();
  }

  private static CompletionStage<Message> done(Message answer) {
    return CompletableFuture.completedFuture(answer);
  }

  @Override
  public void setPort(int port) {
    udp.setPort(port);
    tcp.setPort(port);
  }

  /** With TCP on, queries go over TCP at once, and answers are never truncated. */
  @Override
  public void setTCP(boolean flag) {
    udp.setTCP(flag);
  }

  @Override
  public void setIgnoreTruncation(boolean flag) {
    ignoreTruncation = flag; // the UDP resolver always ignores it: this class makes the fallback
  }

  @Override
  public void setEDNS(int version, int payloadSize, int flags, List<EDNSOption> options) {
    udp.setEDNS(version, payloadSize, flags, options);
    tcp.setEDNS(version, payloadSize, flags, options);
  }

  @Override
  public void setTSIGKey(TSIG key) {
    udp.setTSIGKey(key);
    tcp.setTSIGKey(key);
  }

  @Override
  public void setTimeout(Duration timeout) {
    udp.setTimeout(timeout);
    tcp.setTimeout(timeout);
  }

  @Override
  public Duration getTimeout() {
    return udp.getTimeout();
  }

  @Override
  public String toString() {
    return udp.toString();
  }
}
