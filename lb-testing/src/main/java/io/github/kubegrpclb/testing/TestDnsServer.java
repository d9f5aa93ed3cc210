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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * An authoritative DNS server in the test JVM, speaking the real wire protocol (dnsjava's codec)
 * over UDP and TCP on a loopback port. Tests set A, AAAA and SRV records at runtime and can make it
 * time out, answer SERVFAIL or REFUSED, or truncate every UDP answer. Answers larger than the
 * client's UDP payload size (512 bytes without EDNS) are truncated with the TC flag, as real
 * servers do, so clients must retry over TCP.
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
  private final DatagramSocket udp;
  private final ServerSocket tcp;
  private final Thread udpThread;
  private final Thread tcpThread;
  private final AtomicInteger udpQueries = new AtomicInteger();
  private final AtomicInteger tcpQueries = new AtomicInteger();
  private volatile Mode mode = Mode.NORMAL;
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
    this.mode = mode;
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

  /** Removes every record of {@code host}: queries for it get NXDOMAIN. */
  public void remove(String host) {
    records.remove(name(host));
  }

  public int udpQueries() {
    return udpQueries.get();
  }

  public int tcpQueries() {
    return tcpQueries.get();
  }

  @Override
  public void close() {
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
    Map<Integer, List<Record>> byType =
        records.computeIfAbsent(name(host), n -> new ConcurrentHashMap<>());
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
          byte[] wire = response.toWire();
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
    Mode current = mode;
    if (current == Mode.TIMEOUT) {
      return null;
    }
    if (current == Mode.SERVFAIL) {
      return header(query, Rcode.SERVFAIL);
    }
    if (current == Mode.REFUSED) {
      return header(query, Rcode.REFUSED);
    }
    Record question = query.getQuestion();
    Map<Integer, List<Record>> byType = records.get(question.getName());
    if (byType == null || byType.isEmpty()) {
      return header(query, Rcode.NXDOMAIN);
    }
    Message response = header(query, Rcode.NOERROR);
    for (Record record : byType.getOrDefault(question.getType(), List.of())) {
      response.addRecord(record, Section.ANSWER);
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
