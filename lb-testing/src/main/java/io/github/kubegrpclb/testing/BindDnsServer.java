package io.github.kubegrpclb.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;
import org.xbill.DNS.Update;

/**
 * A real BIND 9 {@code named}, started by a test on a loopback port as an authoritative server for
 * the zone {@code cluster.local}, with records changed at runtime through RFC 2136 dynamic updates
 * sent by dnsjava. Each start uses a fresh zone file in a temporary folder, deleted on close
 * together with the process.
 *
 * <p>Thread-safe for updates (each is one DNS message).
 */
public final class BindDnsServer implements AutoCloseable {
  private static final Name ZONE = name("cluster.local.");
  private static final Duration START_TIMEOUT = Duration.ofSeconds(10);

  private final Process process;
  private final Path dir;
  private final int port;
  private final SimpleResolver updater;

  private BindDnsServer(Process process, Path dir, int port) {
    this.process = process;
    this.dir = dir;
    this.port = port;
    this.updater =
        new SimpleResolver(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    this.updater.setTimeout(Duration.ofSeconds(2));
  }

  /** Starts named (skipping the test, or failing it in CI, when BIND is not installed). */
  public static BindDnsServer start() {
    Path named = TestEnvironment.require("named", "bind9");
    int port = freePort();
    Path dir;
    try {
      dir = Files.createTempDirectory("kube-grpc-lb-bind");
      Files.writeString(
          dir.resolve("cluster.local.zone"),
          "$TTL 1\n"
              + "@ IN SOA ns.cluster.local. admin.cluster.local. 1 60 60 600 1\n"
              + "@ IN NS ns.cluster.local.\n"
              + "ns IN A 127.0.0.1\n");
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
      throw new UncheckedIOException("could not start " + named, e);
    }
    BindDnsServer server = new BindDnsServer(process, dir, port);
    server.awaitReady();
    return server;
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

  private void awaitReady() {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    Message query = Message.newQuery(Record.newRecord(ZONE, Type.SOA, DClass.IN));
    SimpleResolver probe =
        new SimpleResolver(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    probe.setTimeout(Duration.ofMillis(200));
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        close();
        throw new IllegalStateException("named exited at start: " + log());
      }
      try {
        if (probe.send(query).getRcode() == Rcode.NOERROR) {
          return;
        }
      } catch (IOException e) {
        // not listening yet: the probe's own timeout paces this loop
      }
    }
    close();
    throw new IllegalStateException("named did not answer within " + START_TIMEOUT + ": " + log());
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
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort: a temp folder
    }
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
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
