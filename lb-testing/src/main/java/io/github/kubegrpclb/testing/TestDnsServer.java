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
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Record;

/**
 * An authoritative DNS server in the test JVM, speaking the real wire protocol (dnsjava's codec)
 * over UDP and TCP on a loopback port. Tests set A, AAAA, SRV and CNAME records at runtime and can
 * make it time out, answer SERVFAIL or REFUSED (for every name or for one), or truncate every UDP
 * answer. Answers larger than the client's UDP payload size (512 bytes without EDNS) are truncated
 * with the TC flag, as real servers do, so clients must retry over TCP. Like CoreDNS, it can put
 * the addresses of SRV targets in the additional section, and it can serve one record type from an
 * older state than the others, as a caching DNS server does during a rolling update.
 *
 * <p>This class is the transport: sockets, serving threads, truncation and query counters; the
 * records and how they are answered live in the package-private {@code DnsZone}. Thread-safe:
 * setters may be called from any thread while one UDP thread, one TCP accept thread and one thread
 * per TCP connection serve.
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

  private final DnsZone zone = new DnsZone();
  private final DatagramSocket udp;
  private final ServerSocket tcp;
  private final Thread udpThread;
  private final Thread tcpThread;
  private final AtomicInteger udpQueries = new AtomicInteger();
  private final AtomicInteger tcpQueries = new AtomicInteger();
  private final Map<Integer, AtomicInteger> queriesByType = new ConcurrentHashMap<>();
  private volatile boolean truncateUdp;

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
    zone.setMode(mode);
  }

  /**
   * Answers queries for {@code host} (exactly this name, any type) in {@code mode}, whatever the
   * server-wide mode; {@link Mode#NORMAL} restores the server-wide behaviour for it.
   */
  public void setMode(String host, Mode mode) {
    zone.setMode(host, mode);
  }

  /**
   * Answers queries for records of {@code type} at {@code host} in {@code mode}, whatever the other
   * settings (e.g. AAAA queries time out while A queries are answered); {@link Mode#NORMAL}
   * restores the other settings for them.
   */
  public void setMode(String host, int type, Mode mode) {
    zone.setMode(host, type, mode);
  }

  /**
   * Puts an SOA record into the authority section of every NXDOMAIN and NODATA answer, with TTL and
   * minimum {@code ttlSeconds}, as authoritative servers do (CoreDNS's kubernetes plugin: 5 s), so
   * clients know how long the negative answer holds (RFC 2308); a negative value removes it.
   */
  public void setNegativeTtl(long ttlSeconds) {
    zone.setNegativeTtl(ttlSeconds);
  }

  /**
   * Puts the A and AAAA records of each SRV target the server knows into the additional section of
   * SRV answers, as CoreDNS does for headless Services. Off by default. With a {@link #setLag lag}
   * on SRV, these records lag as much, as in a cached answer.
   */
  public void setAdditionalSection(boolean enabled) {
    zone.setAdditionalSection(enabled);
  }

  /**
   * Makes later changes to records of {@code type} (e.g. {@code Type.SRV}) reach answers only
   * {@code lag} after the call that made them, in order, while other types change at once: as a
   * caching DNS server (CoreDNS {@code cache 30}) serves an SRV answer cached before the A records
   * it names changed. {@link Duration#ZERO} ends the lag for later changes. {@link #remove} is
   * never delayed.
   */
  public void setLag(int type, Duration lag) {
    zone.setLag(type, lag);
  }

  /** Sets the TC flag on every UDP answer, with no records, forcing clients to TCP. */
  public void setTruncateUdp(boolean truncate) {
    this.truncateUdp = truncate;
  }

  /** Replaces the A records of {@code host} ({@code ips} empty removes them). */
  public void setA(String host, long ttlSeconds, String... ips) {
    zone.setA(host, ttlSeconds, ips);
  }

  /** Replaces the AAAA records of {@code host}. */
  public void setAaaa(String host, long ttlSeconds, String... ips) {
    zone.setAaaa(host, ttlSeconds, ips);
  }

  /**
   * Replaces the SRV records of {@code name} (e.g. {@code
   * _grpc._tcp.my-svc.my-ns.svc.cluster.local}) with one record per target host, all on {@code
   * port}.
   */
  public void setSrv(String name, long ttlSeconds, int port, String... targets) {
    zone.setSrv(name, ttlSeconds, port, targets);
  }

  /**
   * Replaces the SRV records of {@code name} with {@code records}, for targets on different ports
   * or special records (port 0, target {@code "."}).
   */
  public void setSrv(String name, List<SrvTarget> records) {
    zone.setSrv(name, records);
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
    zone.setCname(alias, ttlSeconds, target);
  }

  /** Removes every record of {@code host}: queries for it get NXDOMAIN. */
  public void remove(String host) {
    zone.remove(host);
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
    zone.close();
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
          Message truncated = DnsZone.header(query, response.getRcode());
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

  /** Counts the query by type and builds the zone's answer, or null to drop the query. */
  private Message answer(Message query) {
    Record question = query.getQuestion();
    if (question != null) {
      queriesByType.computeIfAbsent(question.getType(), t -> new AtomicInteger()).incrementAndGet();
    }
    return zone.answer(query);
  }
}
