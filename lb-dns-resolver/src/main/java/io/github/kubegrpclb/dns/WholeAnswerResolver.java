package io.github.kubegrpclb.dns;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import org.xbill.DNS.EDNSOption;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.TSIG;
import org.xbill.DNS.Type;

/**
 * A {@link Resolver} that passes every query to another and keeps the whole of each positive answer
 * for {@link DnsLookup}: the records of the type asked for, and the A/AAAA records of the
 * additional section, which CoreDNS (and BIND, in its own zone) fills with the addresses of SRV
 * targets, so a headless Service resolves in one query instead of one per pod.
 *
 * <p>dnsjava's LookupSession, which follows the search path and CNAMEs, drops the additional
 * section and turns every answer into RRsets with a duplicate check that is quadratic in the RRset
 * size ({@code RRset.addRR} searches a list): a 1,000-record SRV answer cost it 2 to 10 s of CPU
 * here. So the session gets a copy of a large answer holding only the first record of the type
 * asked for (with any CNAME chain), which is all it needs, and DnsLookup takes the whole RRset from
 * here by the owner name the session reports.
 *
 * <p>It also keeps the TTL of each CNAME it sees, which LookupSession drops too, so that an alias
 * shorter-lived than the records it leads to is followed at its own TTL.
 *
 * <p>Thread-safe: answers are kept in concurrent maps, by owner name (and type), until {@link
 * #take} and {@link #takeAliasTtl}.
 */
final class WholeAnswerResolver implements Resolver {
  private final Resolver delegate;
  private final Map<Key, Kept> kept = new ConcurrentHashMap<>();
  private final Map<Name, Long> aliasTtls = new ConcurrentHashMap<>();
  private final AtomicLong negativeTtl = new AtomicLong(Long.MAX_VALUE);

  WholeAnswerResolver(Resolver delegate) {
    this.delegate = delegate;
  }

  /** The records of one answer and the A/AAAA records of its additional section. Immutable. */
  static final class Kept {
    final List<Record> records;
    final List<Record> additional;

    Kept(List<Record> records, List<Record> additional) {
      this.records = records;
      this.additional = additional;
    }
  }

  /**
   * Returns and forgets the latest answer kept for records of {@code type} at {@code owner} (the
   * name after any CNAME), or {@code seen} with no additional records when none was kept.
   */
  Kept take(Name owner, int type, List<Record> seen) {
    Kept answer = kept.remove(new Key(owner, type));
    return answer != null ? answer : new Kept(seen, List.of());
  }

  /**
   * Returns and forgets the TTL of the latest CNAME (or DNAME) record seen for {@code alias};
   * Long.MAX_VALUE when none was seen.
   */
  long takeAliasTtl(Name alias) {
    Long ttl = aliasTtls.remove(alias);
    return ttl == null ? Long.MAX_VALUE : ttl;
  }

  /**
   * Returns and resets the smallest negative-caching TTL seen since the last call: for each answer
   * without a record of the type asked for (NXDOMAIN or NODATA) that carries an SOA record in its
   * authority section, the smaller of the SOA's TTL and its minimum field (RFC 2308, section 5);
   * Long.MAX_VALUE when there was none.
   */
  long takeNegativeTtl() {
    return negativeTtl.getAndSet(Long.MAX_VALUE);
  }

  @Override
  public CompletionStage<Message> sendAsync(Message query) {
    return delegate.sendAsync(query).thenApply(this::keep);
  }

  @Override
  public CompletionStage<Message> sendAsync(Message query, Executor executor) {
    return delegate.sendAsync(query, executor).thenApply(this::keep);
  }

  private Message keep(Message response) {
    Record question = response.getQuestion();
    if (question == null) {
      return response;
    }
    int type = question.getType();
    List<Record> answer = response.getSection(Section.ANSWER);
    List<Record> matching = new ArrayList<>();
    for (Record record : answer) {
      if (record.getType() == type) {
        matching.add(record);
      } else if (record.getType() == Type.CNAME || record.getType() == Type.DNAME) {
        aliasTtls.put(record.getName(), record.getTTL());
      }
    }
    if (matching.isEmpty()) {
      for (Record record : response.getSection(Section.AUTHORITY)) {
        if (record instanceof SOARecord soa) {
          long ttl = Math.min(soa.getTTL(), soa.getMinimum());
          negativeTtl.accumulateAndGet(ttl, Math::min);
        }
      }
      return response;
    }
    List<Record> additional = new ArrayList<>();
    for (Record record : response.getSection(Section.ADDITIONAL)) {
      if (record.getType() == Type.A || record.getType() == Type.AAAA) {
        additional.add(record);
      }
    }
    kept.put(
        new Key(matching.get(0).getName(), type),
        new Kept(List.copyOf(matching), List.copyOf(additional)));
    if (matching.size() == 1) {
      return response;
    }
    Message slim = response.clone();
    for (int section : new int[] {Section.ANSWER, Section.AUTHORITY, Section.ADDITIONAL}) {
      slim.removeAllRecords(section);
    }
    boolean first = true;
    for (Record record : answer) {
      if (record.getType() != type || first) {
        slim.addRecord(record, Section.ANSWER);
        first &= record.getType() != type;
      }
    }
    return slim;
  }

  /** An owner name and a record type. */
  private static final class Key {
    final Name owner;
    final int type;

    Key(Name owner, int type) {
      this.owner = owner;
      this.type = type;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Key other && other.owner.equals(owner) && other.type == type;
    }

    @Override
    public int hashCode() {
      return owner.hashCode() * 31 + type;
    }
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
