package io.github.kubegrpclb.testing;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * An authoritative DNS server in the test JVM, speaking the real wire protocol (dnsjava's codec)
 * over UDP and TCP on a loopback port. Tests set A, AAAA, SRV and CNAME records at runtime and can
 * make it time out, answer SERVFAIL or REFUSED (for every name or for one), or truncate every UDP
 * answer. Answers larger than the client's UDP payload size (512 bytes without EDNS) are truncated
 * with the TC flag, as real servers do, so clients must retry over TCP. Like CoreDNS, it can put
 * the addresses of SRV targets in the additional section, and it can serve one record type from an
 * older state than the others, as a caching DNS server does during a rolling update.
 *
 * <p>Thread-safe: records live in concurrent maps; one UDP thread and one TCP thread serve.
 */
public final class TestDnsServer implements AutoCloseable {
  /** How the server answers. */
  public enum Mode {
    NORMAL,
    /** Drops every query (the client times out). */
    TIMEOUT,
    SERVFAIL,
    REFUSED
  }

  private final Map<Name, Map<Integer, List<Record>>> records = new ConcurrentHashMap<>();

  /** The A/AAAA records SRV answers carry in their additional section; lag with SRV answers. */
  private final Map<Name, Map<Integer, List<Record>>> additional = new ConcurrentHashMap<>();

  private final DatagramSocket udp;
  private final ServerSocket tcp;
  private final Thread udpThread;
  private final Thread tcpThread;
  private final AtomicInteger udpQueries = new AtomicInteger();
  private final AtomicInteger tcpQueries = new AtomicInteger();
  private final Map<Integer, AtomicInteger> queriesByType = new ConcurrentHashMap<>();
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
  private volatile boolean truncateUdp;
  private volatile boolean additionalSection;

  private TestDnsServer(DatagramSocket udp, ServerSocket tcp) {
    this.udp = udp;
    this.tcp = tcp;
    this.udpThread = new Thread(this::serveUdp, "test-dns-udp");
    this.tcpThread = new Thread(this::serveTcp, "test-dns-tcp");
    udpThread.setDaemon(true);
    tcpThread.setDaemon(true);
    udpThread.start();
    tcpThread.start();
  }

  /** Starts a server on 127.0.0.1, UDP and TCP on the same free port. */
  public static TestDnsServer start() {
    IOException last = null;
    for (int attempt = 0; attempt < 5; attempt++) {
      DatagramSocket udp = null;
      try {
        udp = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        ServerSocket tcp = new ServerSocket();
        tcp.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), udp.getLocalPort()), 50);
        return new TestDnsServer(udp, tcp);
      } catch (IOException e) {
        last = e; // TCP port taken: try another
        if (udp != null) {
          udp.close();
        }
      }
    }
    throw new UncheckedIOException("could not start the test DNS server", last);
  }

  /** The server's address, for a resolver target's authority: {@code 127.0.0.1:port}. */
  public InetSocketAddress address() {
    return new InetSocketAddress(InetAddress.getLoopbackAddress(), udp.getLocalPort());
  }

  /** {@code host:port} of this server. */
  public String authority() {
    return "127.0.0.1:" + udp.getLocalPort();
  }

  public void setMode(Mode mode) {
    this.mode = mode;
  }

  /**
   * Answers queries for {@code host} (exactly this name, any type) in {@code mode}, whatever the
   * server-wide mode; {@link Mode#NORMAL} restores the server-wide behaviour for it.
   */
  public void setMode(String host, Mode mode) {
    if (mode == Mode.NORMAL) {
      modeByName.remove(name(host));
    } else {
      modeByName.put(name(host), mode);
    }
  }

  /**
   * Answers queries for records of {@code type} at {@code host} in {@code mode}, whatever the other
   * settings (e.g. AAAA queries time out while A queries are answered); {@link Mode#NORMAL}
   * restores the other settings for them.
   */
  public void setMode(String host, int type, Mode mode) {
    String key = name(host) + "/" + type;
    if (mode == Mode.NORMAL) {
      modeByNameAndType.remove(key);
    } else {
      modeByNameAndType.put(key, mode);
    }
  }

  /**
   * Puts an SOA record into the authority section of every NXDOMAIN and NODATA answer, with TTL and
   * minimum {@code ttlSeconds}, as authoritative servers do (CoreDNS's kubernetes plugin: 5 s), so
   * clients know how long the negative answer holds (RFC 2308); a negative value removes it.
   */
  public void setNegativeTtl(long ttlSeconds) {
    this.negativeTtl = ttlSeconds;
  }

  /**
   * Puts the A and AAAA records of each SRV target the server knows into the additional section of
   * SRV answers, as CoreDNS does for headless Services. Off by default. With a {@link #setLag lag}
   * on SRV, these records lag as much, as in a cached answer.
   */
  public void setAdditionalSection(boolean enabled) {
    this.additionalSection = enabled;
  }

  /**
   * Makes later changes to records of {@code type} (e.g. {@code Type.SRV}) reach answers only
   * {@code lag} after the call that made them, in order, while other types change at once: as a
   * caching DNS server (CoreDNS {@code cache 30}) serves an SRV answer cached before the A records
   * it names changed. {@link Duration#ZERO} ends the lag for later changes. {@link #remove} is
   * never delayed.
   */
  public void setLag(int type, Duration lag) {
    if (lag.isNegative()) {
      throw new IllegalArgumentException("lag: " + lag + " (expected: >= 0)");
    }
    if (lag.isZero()) {
      lagByType.remove(type);
    } else {
      lagByType.put(type, lag);
    }
  }

  /** Sets the TC flag on every UDP answer, with no records, forcing clients to TCP. */
  public void setTruncateUdp(boolean truncate) {
    this.truncateUdp = truncate;
  }

  /** Replaces the A records of {@code host} ({@code ips} empty removes them). */
  public void setA(String host, long ttlSeconds, String... ips) {
    List<Record> list = new ArrayList<>();
    for (String ip : ips) {
      list.add(new ARecord(name(host), DClass.IN, ttlSeconds, address(ip)));
    }
    put(host, Type.A, list);
  }

  /** Replaces the AAAA records of {@code host}. */
  public void setAaaa(String host, long ttlSeconds, String... ips) {
    List<Record> list = new ArrayList<>();
    for (String ip : ips) {
      list.add(new AAAARecord(name(host), DClass.IN, ttlSeconds, address(ip)));
    }
    put(host, Type.AAAA, list);
  }

  /**
   * Replaces the SRV records of {@code name} (e.g. {@code
   * _grpc._tcp.my-svc.my-ns.svc.cluster.local}) with one record per target host, all on {@code
   * port}.
   */
  public void setSrv(String name, long ttlSeconds, int port, String... targets) {
    List<Record> list = new ArrayList<>();
    for (String target : targets) {
      list.add(new SRVRecord(name(name), DClass.IN, ttlSeconds, 0, 100, port, name(target)));
    }
    put(name, Type.SRV, list);
  }

  /**
   * Replaces the SRV records of {@code name} with {@code records}, for targets on different ports
   * or special records (port 0, target {@code "."}).
   */
  public void setSrv(String name, List<SrvTarget> records) {
    List<Record> list = new ArrayList<>();
    for (SrvTarget record : records) {
      list.add(
          new SRVRecord(
              name(name), DClass.IN, record.ttlSeconds, 0, 100, record.port, name(record.target)));
    }
    put(name, Type.SRV, list);
  }

  /** One SRV record for {@link #setSrv(String, List)}. */
  public static final class SrvTarget {
    final String target;
    final int port;
    final long ttlSeconds;

    /** An SRV record naming {@code target} (or {@code "."}) on {@code port}. */
    public SrvTarget(String target, int port, long ttlSeconds) {
      this.target = target;
      this.port = port;
      this.ttlSeconds = ttlSeconds;
    }
  }

  /**
   * Makes {@code alias} a CNAME for {@code target} (null removes it). Answers for the alias carry
   * the CNAME chain and, as an authoritative server does in its own zone, the records it leads to.
   */
  public void setCname(String alias, long ttlSeconds, String target) {
    put(
        alias,
        Type.CNAME,
        target == null
            ? List.of()
            : List.of(new CNAMERecord(name(alias), DClass.IN, ttlSeconds, name(target))));
  }

  /** Removes every record of {@code host}: queries for it get NXDOMAIN. */
  public void remove(String host) {
    records.remove(name(host));
    additional.remove(name(host));
  }

  public int udpQueries() {
    return udpQueries.get();
  }

  public int tcpQueries() {
    return tcpQueries.get();
  }

  /** Queries received (UDP and TCP) whose question has {@code type}, e.g. {@code Type.A}. */
  public int queries(int type) {
    AtomicInteger count = queriesByType.get(type);
    return count == null ? 0 : count.get();
  }

  @Override
  public void close() {
    lagged.shutdownNow();
    udp.close();
    try {
      tcp.close();
    } catch (IOException e) {
      // closing anyway
    }
    try {
      udpThread.join(5000);
      tcpThread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
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

  private void serveUdp() {
    byte[] buffer = new byte[65535];
    while (!udp.isClosed()) {
      DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
      try {
        udp.receive(packet);
      } catch (SocketException e) {
        return; // closed
      } catch (IOException e) {
        continue;
      }
      udpQueries.incrementAndGet();
      try {
        Message query = new Message(java.util.Arrays.copyOf(packet.getData(), packet.getLength()));
        Message response = answer(query);
        if (response == null) {
          continue;
        }
        OPTRecord opt = query.getOPT();
        int max = opt == null ? 512 : Math.max(512, opt.getPayloadSize());
        byte[] wire;
        if (truncateUdp) {
          Message truncated = header(query, response.getRcode());
          truncated.getHeader().setFlag(Flags.TC);
          wire = truncated.toWire();
        } else {
          wire = response.toWire(max);
        }
        udp.send(new DatagramPacket(wire, wire.length, packet.getSocketAddress()));
      } catch (IOException | RuntimeException e) {
        // a malformed query: no answer
      }
    }
  }

  private void serveTcp() {
    while (!tcp.isClosed()) {
      Socket socket;
      try {
        socket = tcp.accept();
      } catch (IOException e) {
        if (tcp.isClosed()) {
          return;
        }
        continue;
      }
      Thread handler = new Thread(() -> serveTcpConnection(socket), "test-dns-tcp-conn");
      handler.setDaemon(true);
      handler.start();
    }
  }

  /** Answers queries on one connection until the client closes it (clients may reuse it). */
  private void serveTcpConnection(Socket socket) {
    try (socket) {
      socket.setSoTimeout(10_000);
      DataInputStream in = new DataInputStream(socket.getInputStream());
      DataOutputStream out = new DataOutputStream(socket.getOutputStream());
      for (int served = 0; served < 10_000 && !tcp.isClosed(); served++) {
        int length = in.readUnsignedShort();
        byte[] data = in.readNBytes(length);
        tcpQueries.incrementAndGet();
        Message response = answer(new Message(data));
        if (response != null) {
          byte[] wire = response.toWire(65535); // the most a TCP message can hold
          synchronized (out) {
            out.writeShort(wire.length);
            out.write(wire);
            out.flush();
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      // the client closed the connection, or sent garbage: done with it
    }
  }

  /** Builds the answer, or null to drop the query. */
  private Message answer(Message query) {
    Record question = query.getQuestion();
    if (question != null) {
      queriesByType.computeIfAbsent(question.getType(), t -> new AtomicInteger()).incrementAndGet();
    }
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

  private static Message header(Message query, int rcode) {
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
