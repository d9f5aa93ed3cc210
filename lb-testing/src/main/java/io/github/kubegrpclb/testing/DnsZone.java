package io.github.kubegrpclb.testing;

import io.github.kubegrpclb.testing.TestDnsServer.Mode;
import io.github.kubegrpclb.testing.TestDnsServer.SrvTarget;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * The zone behind {@link TestDnsServer}: its records, its failure modes and lags, and the answer it
 * builds for one query (CNAME chains, NXDOMAIN/NODATA with an optional SOA, SRV targets' addresses
 * in the additional section). It knows nothing of sockets: the server hands it decoded queries and
 * puts its answers on the wire. Thread-safe: state lives in concurrent maps and volatile fields,
 * lagged changes are applied by one daemon scheduler thread, and {@link #answer} may run on any
 * number of serving threads at once.
 */
final class DnsZone {
  private final Map<Name, Map<Integer, List<Record>>> records = new ConcurrentHashMap<>();

  /** The A/AAAA records SRV answers carry in their additional section; lag with SRV answers. */
  private final Map<Name, Map<Integer, List<Record>>> additional = new ConcurrentHashMap<>();

  private final Map<Name, Mode> modeByName = new ConcurrentHashMap<>();
  private final Map<String, Mode> modeByNameAndType = new ConcurrentHashMap<>();
  private volatile long negativeTtl = -1; // -1: no SOA record in negative answers
  private final Map<Integer, Duration> lagByType = new ConcurrentHashMap<>();
  private final ScheduledExecutorService lagged =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "test-dns-lag");
            t.setDaemon(true);
            return t;
          });
  private volatile Mode mode = Mode.NORMAL;
  private volatile boolean additionalSection;

  void setMode(Mode mode) {
    this.mode = mode;
  }

  void setMode(String host, Mode mode) {
    if (mode == Mode.NORMAL) {
      modeByName.remove(name(host));
    } else {
      modeByName.put(name(host), mode);
    }
  }

  void setMode(String host, int type, Mode mode) {
    String key = name(host) + "/" + type;
    if (mode == Mode.NORMAL) {
      modeByNameAndType.remove(key);
    } else {
      modeByNameAndType.put(key, mode);
    }
  }

  void setNegativeTtl(long ttlSeconds) {
    this.negativeTtl = ttlSeconds;
  }

  void setAdditionalSection(boolean enabled) {
    this.additionalSection = enabled;
  }

  void setLag(int type, Duration lag) {
    if (lag.isNegative()) {
      throw new IllegalArgumentException("lag: " + lag + " (expected: >= 0)");
    }
    if (lag.isZero()) {
      lagByType.remove(type);
    } else {
      lagByType.put(type, lag);
    }
  }

  void setA(String host, long ttlSeconds, String... ips) {
    List<Record> list = new ArrayList<>();
    for (String ip : ips) {
      list.add(new ARecord(name(host), DClass.IN, ttlSeconds, address(ip)));
    }
    put(host, Type.A, list);
  }

  void setAaaa(String host, long ttlSeconds, String... ips) {
    List<Record> list = new ArrayList<>();
    for (String ip : ips) {
      list.add(new AAAARecord(name(host), DClass.IN, ttlSeconds, address(ip)));
    }
    put(host, Type.AAAA, list);
  }

  void setSrv(String name, long ttlSeconds, int port, String... targets) {
    List<Record> list = new ArrayList<>();
    for (String target : targets) {
      list.add(new SRVRecord(name(name), DClass.IN, ttlSeconds, 0, 100, port, name(target)));
    }
    put(name, Type.SRV, list);
  }

  void setSrv(String name, List<SrvTarget> records) {
    List<Record> list = new ArrayList<>();
    for (SrvTarget record : records) {
      list.add(
          new SRVRecord(
              name(name), DClass.IN, record.ttlSeconds, 0, 100, record.port, name(record.target)));
    }
    put(name, Type.SRV, list);
  }

  void setCname(String alias, long ttlSeconds, String target) {
    put(
        alias,
        Type.CNAME,
        target == null
            ? List.of()
            : List.of(new CNAMERecord(name(alias), DClass.IN, ttlSeconds, name(target))));
  }

  void remove(String host) {
    records.remove(name(host));
    additional.remove(name(host));
  }

  /** Stops applying lagged changes. */
  void close() {
    lagged.shutdownNow();
  }

  private void put(String host, int type, List<Record> list) {
    put(records, host, type, list, lagByType.get(type));
    if (type == Type.A || type == Type.AAAA) {
      put(additional, host, type, list, lagByType.get(Type.SRV));
    }
  }

  private void put(
      Map<Name, Map<Integer, List<Record>>> into,
      String host,
      int type,
      List<Record> list,
      Duration lag) {
    if (lag != null) {
      lagged.schedule(() -> putNow(into, host, type, list), lag.toNanos(), TimeUnit.NANOSECONDS);
    } else {
      putNow(into, host, type, list);
    }
  }

  private static void putNow(
      Map<Name, Map<Integer, List<Record>>> into, String host, int type, List<Record> list) {
    Map<Integer, List<Record>> byType =
        into.computeIfAbsent(name(host), n -> new ConcurrentHashMap<>());
    if (list.isEmpty()) {
      byType.remove(type);
    } else {
      byType.put(type, List.copyOf(list));
    }
  }

  private static Name name(String host) {
    try {
      return Name.fromString(host.endsWith(".") ? host : host + ".");
    } catch (TextParseException e) {
      throw new IllegalArgumentException("host: " + host, e);
    }
  }

  private static InetAddress address(String ip) {
    try {
      return InetAddress.getByName(ip); // a literal: no lookup
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("ip: " + ip, e);
    }
  }

  /** Builds the answer, or null to drop the query. */
  Message answer(Message query) {
    Record question = query.getQuestion();
    Mode current = question == null ? mode : modeByName.getOrDefault(question.getName(), mode);
    if (question != null) {
      current =
          modeByNameAndType.getOrDefault(question.getName() + "/" + question.getType(), current);
    }
    if (current == Mode.TIMEOUT) {
      return null;
    }
    if (current == Mode.SERVFAIL) {
      return header(query, Rcode.SERVFAIL);
    }
    if (current == Mode.REFUSED) {
      return header(query, Rcode.REFUSED);
    }
    Map<Integer, List<Record>> byType = records.get(question.getName());
    if (byType == null || byType.isEmpty()) {
      return negative(header(query, Rcode.NXDOMAIN), question.getName());
    }
    Message response = header(query, Rcode.NOERROR);
    // Follow a CNAME chain inside the server, at most 8 links (a loop ends there too).
    for (int link = 0; link < 8 && question.getType() != Type.CNAME; link++) {
      List<Record> cname = byType.getOrDefault(Type.CNAME, List.of());
      if (cname.isEmpty()) {
        break;
      }
      response.addRecord(cname.get(0), Section.ANSWER);
      byType = records.get(((CNAMERecord) cname.get(0)).getTarget());
      if (byType == null) {
        return response; // a dangling alias: the client finds out at the target
      }
    }
    List<Record> answers = byType.getOrDefault(question.getType(), List.of());
    if (answers.isEmpty() && response.getSection(Section.ANSWER).isEmpty()) {
      negative(response, question.getName()); // NODATA
    }
    for (Record record : answers) {
      response.addRecord(record, Section.ANSWER);
      if (additionalSection && record instanceof SRVRecord) {
        Map<Integer, List<Record>> target = additional.get(((SRVRecord) record).getTarget());
        if (target != null) {
          for (int type : new int[] {Type.A, Type.AAAA}) {
            for (Record address : target.getOrDefault(type, List.of())) {
              response.addRecord(address, Section.ADDITIONAL);
            }
          }
        }
      }
    }
    return response;
  }

  /* The SOA record of a negative answer: the zone is the queried name's parent, close enough. */
  private Message negative(Message response, Name queried) {
    long ttl = negativeTtl;
    if (ttl >= 0) {
      Name zone = queried.labels() > 2 ? new Name(queried, 1) : queried;
      try {
        response.addRecord(
            new SOARecord(
                zone,
                DClass.IN,
                ttl,
                Name.fromString("ns.dns." + zone),
                Name.fromString("hostmaster." + zone),
                1,
                7200,
                1800,
                86400,
                ttl),
            Section.AUTHORITY);
      } catch (TextParseException e) {
        throw new IllegalArgumentException("zone: " + zone, e);
      }
    }
    return response;
  }

  /** An authoritative answer's header for {@code query}, with {@code rcode} and its question. */
  static Message header(Message query, int rcode) {
    Message response = new Message(query.getHeader().getID());
    response.getHeader().setFlag(Flags.QR);
    response.getHeader().setFlag(Flags.AA);
    if (query.getHeader().getFlag(Flags.RD)) {
      response.getHeader().setFlag(Flags.RD);
    }
    response.getHeader().setRcode(rcode);
    Record question = query.getQuestion();
    if (question != null) {
      response.addRecord(question, Section.QUESTION);
    }
    return response;
  }
}
