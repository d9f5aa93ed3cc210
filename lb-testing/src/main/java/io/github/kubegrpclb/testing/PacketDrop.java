package io.github.kubegrpclb.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A network partition of one address: {@code iptables -I INPUT -d ADDRESS -j DROP}, so packets to
 * it vanish (connections look healthy, calls hang, new connects hang rather than being refused).
 * Closing it deletes the rule. Only inside a private network namespace (see {@link
 * KubeProxyRules#require}); thread-safe (each call runs one iptables process).
 */
public final class PacketDrop implements AutoCloseable {
  private final String address;
  private boolean dropping;

  private PacketDrop(String address) {
    this.address = address;
  }

  /** Skips the test (fails it in CI) unless it can drop packets in its own network namespace. */
  public static void require() {
    KubeProxyRules.require();
    TestEnvironment.require("iptables", "iptables");
  }

  /** Starts dropping every packet sent to {@code address}. */
  public static PacketDrop to(InetAddress address) {
    PacketDrop drop = new PacketDrop(address.getHostAddress());
    drop.iptables("-I");
    drop.dropping = true;
    return drop;
  }

  /** Stops dropping (idempotent). */
  @Override
  public synchronized void close() {
    if (dropping) {
      iptables("-D");
      dropping = false;
    }
  }

  private void iptables(String action) {
    List<String> command = new ArrayList<>();
    command.add(TestEnvironment.require("iptables", "iptables").toString());
    command.addAll(List.of(action, "INPUT", "-d", address, "-j", "DROP"));
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException(command + " did not finish in 10 s");
      }
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (process.exitValue() != 0) {
        throw new IllegalStateException(
            command + " failed (" + process.exitValue() + "): " + output);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
