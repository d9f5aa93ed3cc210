package io.github.kubegrpclb.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.Type;
import org.xbill.DNS.Update;

/**
 * A real BIND 9 {@code named}, started by a test on a loopback port as an authoritative server for
 * the zone {@code cluster.local}, with records changed at runtime through RFC 2136 dynamic updates
 * sent by dnsjava. Each start uses a fresh zone file in a temporary folder, deleted on close
 * together with the process; a TXT record only that zone file holds proves that the server on the
 * port is this process (a port free when drawn may be taken before named binds it).
 *
 * <p>Thread-safe for updates (each is one DNS message).
 */
public final class BindDnsServer implements AutoCloseable {
  private static final Name ZONE = name("cluster.local.");

  /** Holds, in each start's zone file, a TXT record with a token of that start alone. */
  private static final Name TOKEN = name("_kube-grpc-lb-instance.cluster.local.");

  private static final Duration START_TIMEOUT = Duration.ofSeconds(10);
  private static final int START_ATTEMPTS = 5;

  /** What named 9.18 logs when the port is another process's (it then exits). */
  private static final List<String> PORT_TAKEN =
      List.of("address in use", "unable to listen on any configured interfaces");

  private static final String ZONES_LOADED = "all zones loaded";
  private static final int CONFIRMING_PROBES = 8;

  private final Process process;
  private final Path dir;
  private final int port;
  private final String token;
  private final SimpleResolver updater;

  private BindDnsServer(Process process, Path dir, int port, String token) {
    this.process = process;
    this.dir = dir;
    this.port = port;
    this.token = token;
    this.updater =
        new SimpleResolver(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    this.updater.setTimeout(Duration.ofSeconds(2));
  }

  /** Starts named (skipping the test, or failing it in CI, when BIND is not installed). */
  public static BindDnsServer start() {
    return start(BindDnsServer::freePort);
  }

  /**
   * Starts named on a port drawn from {@code ports}, drawing a new one when the port turns out not
   * to be named's own: another process holds it (named logs "address in use") or answers on it (the
   * probe's answer lacks the token only this start's zone file holds). A port is free when drawn,
   * but another process may take it before named binds it.
   */
  public static BindDnsServer start(IntSupplier ports) {
    Path named = TestEnvironment.require("named", "bind9");
    PortTaken last = null;
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      BindDnsServer server = launch(named, ports.getAsInt());
      try {
        server.awaitReady();
        return server;
      } catch (PortTaken e) {
        last = e;
        server.close();
      } catch (RuntimeException e) {
        server.close();
        throw e;
      }
    }
    throw new IllegalStateException(
        "named found no port of its own in " + START_ATTEMPTS + " attempts", last);
  }

  private static BindDnsServer launch(Path named, int port) {
    String token = UUID.randomUUID().toString();
    Path dir;
    try {
      dir = Files.createTempDirectory("kube-grpc-lb-bind");
      Files.writeString(
          dir.resolve("cluster.local.zone"),
          "$TTL 1\n"
              + "@ IN SOA ns.cluster.local. admin.cluster.local. 1 60 60 600 1\n"
              + "@ IN NS ns.cluster.local.\n"
              + "ns IN A 127.0.0.1\n"
              + TOKEN.relativize(ZONE)
              + " IN TXT \""
              + token
              + "\"\n");
      Files.writeString(
          dir.resolve("named.conf"),
          "options {\n"
              + "  directory \""
              + dir
              + "\";\n"
              + "  listen-on port "
              + port
              + " { 127.0.0.1; };\n"
              + "  listen-on-v6 { none; };\n"
              // Bind the port alone: a server holding it makes the bind fail, visibly, in place
              // of sharing its traffic.
              + "  reuseport no;\n"
              + "  recursion no;\n"
              + "  dnssec-validation no;\n"
              + "  notify no;\n"
              + "  pid-file none;\n"
              + "  session-keyfile none;\n"
              + "};\n"
              + "controls { };\n"
              + "zone \"cluster.local\" {\n"
              + "  type primary;\n"
              + "  file \""
              + dir.resolve("cluster.local.zone")
              + "\";\n"
              + "  allow-update { 127.0.0.1; };\n"
              + "};\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Process process;
    try {
      process =
          new ProcessBuilder(
                  named.toString(), "-g", "-n", "1", "-c", dir.resolve("named.conf").toString())
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("named.log").toFile())
              .start();
    } catch (IOException e) {
      deleteTree(dir);
      throw new UncheckedIOException("could not start " + named, e);
    }
    return new BindDnsServer(process, dir, port, token);
  }

  public int port() {
    return port;
  }

  /** {@code 127.0.0.1:port}, for a resolver target's authority. */
  public String authority() {
    return "127.0.0.1:" + port;
  }

  /** Replaces the A records of {@code host} (inside cluster.local) with {@code ips}. */
  public void setA(String host, long ttlSeconds, String... ips) {
    Name name = name(host.endsWith(".") ? host : host + ".");
    Update update = new Update(ZONE);
    update.delete(name, Type.A);
    for (String ip : ips) {
      try {
        update.add(new ARecord(name, DClass.IN, ttlSeconds, InetAddress.getByName(ip)));
      } catch (IOException e) {
        throw new IllegalArgumentException("ip: " + ip, e);
      }
    }
    send(update);
  }

  /**
   * Replaces the SRV records of {@code name} (inside cluster.local, e.g. {@code
   * _grpc._tcp.my-svc.my-ns.svc.cluster.local}) with one record per target host, all on {@code
   * port}. BIND puts the addresses it holds for the targets in the additional section of answers.
   */
  public void setSrv(String name, long ttlSeconds, int port, String... targets) {
    Name owner = name(name.endsWith(".") ? name : name + ".");
    Update update = new Update(ZONE);
    update.delete(owner, Type.SRV);
    for (String target : targets) {
      update.add(
          new SRVRecord(
              owner,
              DClass.IN,
              ttlSeconds,
              0,
              100,
              port,
              name(target.endsWith(".") ? target : target + ".")));
    }
    send(update);
  }

  private void send(Message update) {
    try {
      Message response = updater.send(update);
      if (response.getRcode() != Rcode.NOERROR) {
        throw new IllegalStateException(
            "BIND refused the update: " + Rcode.string(response.getRcode()) + " " + log());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("dynamic update to BIND failed; " + log(), e);
    }
  }

  /**
   * Waits until named answers on its port with the token of its own zone file, so that the server
   * the test talks to is this process and not another one on a colliding port.
   *
   * @throws PortTaken when another process holds or answers on the port: start again elsewhere
   */
  private void awaitReady() {
    Message query = Message.newQuery(Record.newRecord(TOKEN, Type.TXT, DClass.IN));
    SimpleResolver probe =
        new SimpleResolver(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    probe.setTimeout(Duration.ofMillis(200));
    try {
      Awaitility.await("named answering on port " + port + " with its token")
          .atMost(START_TIMEOUT)
          .pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(20))
          .pollInSameThread()
          .until(() -> answersWithToken(probe, query));
    } catch (ConditionTimeoutException e) {
      throw new IllegalStateException(
          "named did not answer within " + START_TIMEOUT + ": " + log(), e);
    }
    confirmOwnPort(probe, query);
  }

  private boolean answersWithToken(SimpleResolver probe, Message query) {
    String log = log();
    if (PORT_TAKEN.stream().anyMatch(log::contains)) {
      throw new PortTaken("port " + port + " is taken: " + log);
    }
    if (!process.isAlive()) {
      throw new IllegalStateException("named exited at start: " + log);
    }
    Message answer;
    try {
      answer = probe.send(query);
    } catch (IOException e) {
      return false; // not listening yet
    }
    if (holdsToken(answer)) {
      return true;
    }
    // Until its zones are loaded, named itself answers without the token; after, only another
    // server on the same port does.
    if (log.contains(ZONES_LOADED)) {
      throw new PortTaken(
          "port " + port + " answered by another server: " + answer.toString().strip());
    }
    return false;
  }

  /**
   * Probes a few more times, each from a new source port: a server sharing the port (SO_REUSEPORT)
   * would get some of them.
   */
  private void confirmOwnPort(SimpleResolver probe, Message query) {
    for (int i = 0; i < CONFIRMING_PROBES; i++) {
      Message answer;
      try {
        answer = probe.send(query);
      } catch (IOException e) {
        throw new PortTaken("port " + port + " stopped answering: " + e);
      }
      if (!holdsToken(answer)) {
        throw new PortTaken(
            "port " + port + " shared with another server: " + answer.toString().strip());
      }
    }
    if (!process.isAlive()) {
      throw new IllegalStateException("named exited at start: " + log());
    }
  }

  private boolean holdsToken(Message answer) {
    for (Record record : answer.getSection(Section.ANSWER)) {
      if (record instanceof TXTRecord txt && txt.getStrings().contains(token)) {
        return true;
      }
    }
    return false;
  }

  private String log() {
    try {
      return "named log: " + Files.readString(dir.resolve("named.log"));
    } catch (IOException e) {
      return "(no named log)";
    }
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    deleteTree(dir);
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort: a temp folder
    }
  }

  /** A port free on 127.0.0.1 for both TCP and UDP, as named listens on both. */
  private static int freePort() {
    for (int attempt = 0; attempt < 20; attempt++) {
      try (ServerSocket tcp = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
          DatagramSocket udp =
              new DatagramSocket(
                  new InetSocketAddress(InetAddress.getLoopbackAddress(), tcp.getLocalPort()))) {
        return udp.getLocalPort();
      } catch (IOException e) {
        // UDP taken on that port: draw another
      }
    }
    throw new IllegalStateException("no port free for both TCP and UDP on 127.0.0.1");
  }

  /** The port turned out to be another process's. */
  private static final class PortTaken extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    PortTaken(String message) {
      super(message);
    }
  }

  private static Name name(String text) {
    try {
      return Name.fromString(text);
    } catch (IOException e) {
      throw new IllegalArgumentException(text, e);
    }
  }
}
