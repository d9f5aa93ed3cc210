package io.github.kubegrpclb.dns;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.xbill.DNS.EDNSOption;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.Section;
import org.xbill.DNS.TSIG;
import org.xbill.DNS.Type;

/**
 * A {@link Resolver} that passes every query to another and keeps the A/AAAA records of the
 * additional section of SRV answers, which dnsjava's LookupSession drops. CoreDNS (and BIND, in its
 * own zone) puts the addresses of SRV targets there, so a headless Service resolves in one query
 * instead of one per pod.
 *
 * <p>Thread-safe: answers are kept in a concurrent map, per SRV owner name, until {@link #take}.
 */
final class SrvGlueResolver implements Resolver {
  private final Resolver delegate;
  private final Map<Name, List<Record>> glueByOwner = new ConcurrentHashMap<>();

  SrvGlueResolver(Resolver delegate) {
    this.delegate = delegate;
  }

  /**
   * Returns and forgets the A/AAAA records that came with the latest SRV answer for {@code owner}
   * (the name of the SRV records, after any CNAME); empty when there were none.
   */
  List<Record> take(Name owner) {
    List<Record> glue = glueByOwner.remove(owner);
    return glue == null ? List.of() : glue;
  }

  @Override
  public CompletionStage<Message> sendAsync(Message query) {
    return delegate.sendAsync(query).thenApply(this::keepGlue);
  }

  @Override
  public CompletionStage<Message> sendAsync(Message query, Executor executor) {
    return delegate.sendAsync(query, executor).thenApply(this::keepGlue);
  }

  private Message keepGlue(Message response) {
    Record question = response.getQuestion();
    if (question == null || question.getType() != Type.SRV) {
      return response;
    }
    List<Record> glue = new ArrayList<>();
    for (Record record : response.getSection(Section.ADDITIONAL)) {
      if (record.getType() == Type.A || record.getType() == Type.AAAA) {
        glue.add(record);
      }
    }
    for (Record record : response.getSection(Section.ANSWER)) {
      if (record.getType() == Type.SRV) {
        glueByOwner.put(record.getName(), List.copyOf(glue)); // overwrites an older answer's
      }
    }
    return response;
  }

  @Override
  public void setPort(int port) {
    delegate.setPort(port);
  }

  @Override
  public void setTCP(boolean flag) {
    delegate.setTCP(flag);
  }

  @Override
  public void setIgnoreTruncation(boolean flag) {
    delegate.setIgnoreTruncation(flag);
  }

  @Override
  public void setEDNS(int version, int payloadSize, int flags, List<EDNSOption> options) {
    delegate.setEDNS(version, payloadSize, flags, options);
  }

  @Override
  public void setTSIGKey(TSIG key) {
    delegate.setTSIGKey(key);
  }

  @Override
  public void setTimeout(Duration timeout) {
    delegate.setTimeout(timeout);
  }

  @Override
  public Duration getTimeout() {
    return delegate.getTimeout();
  }

  @Override
  public String toString() {
    return delegate.toString();
  }
}
