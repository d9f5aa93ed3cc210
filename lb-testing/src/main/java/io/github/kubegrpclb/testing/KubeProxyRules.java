package io.github.kubegrpclb.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Programs the nat rules kube-proxy writes in iptables mode for one ClusterIP Service, for real,
 * with {@code iptables-nft-restore}: OUTPUT -> KUBE-SERVICES ({@code -d VIP -p tcp --dport P}) ->
 * KUBE-SVC (one {@code -m statistic --mode random --probability 1/k} jump per endpoint, as
 * kube-proxy spreads them) -> KUBE-SEP ({@code -j DNAT --to-destination POD:PORT}).
 *
 * <p>Only inside the private network namespace the lb-sharding test JVM runs in (its Surefire
 * {@code <jvm>} wrapper uses {@code unshare -rn}); {@link #require} skips elsewhere, and fails in
 * CI. New rules affect new connections only, as with kube-proxy (conntrack).
 */
public final class KubeProxyRules {
  private KubeProxyRules() {}

  /** Skips the test (fails it in CI) unless this JVM runs in its own network namespace. */
  public static void require() {
    if (!"1".equals(System.getenv("KUBE_GRPC_LB_NETNS"))) {
      String message =
          "this test needs its JVM in a private user + network namespace (unshare -rn, util-linux),"
              + " which the lb-sharding Surefire wrapper sets up where user namespaces are allowed";
      if (TestEnvironment.inCi()) {
        throw new AssertionError("CI=true but " + message);
      }
      org.junit.jupiter.api.Assumptions.abort(message);
    }
    TestEnvironment.require("iptables-nft-restore", "iptables");
  }

  /** Replaces the nat table with kube-proxy's rules sending {@code vip} to {@code endpoints}. */
  public static void apply(InetSocketAddress vip, List<InetSocketAddress> endpoints) {
    StringBuilder rules = new StringBuilder();
    rules.append("*nat\n");
    rules.append(":KUBE-SERVICES - [0:0]\n");
    rules.append(":KUBE-SVC-TEST - [0:0]\n");
    for (int i = 0; i < endpoints.size(); i++) {
      rules.append(":KUBE-SEP-").append(i).append(" - [0:0]\n");
    }
    rules.append("-A OUTPUT -j KUBE-SERVICES\n");
    rules
        .append("-A KUBE-SERVICES -d ")
        .append(vip.getAddress().getHostAddress())
        .append("/32 -p tcp -m tcp --dport ")
        .append(vip.getPort())
        .append(" -j KUBE-SVC-TEST\n");
    for (int i = 0; i < endpoints.size(); i++) {
      int remaining = endpoints.size() - i;
      rules.append("-A KUBE-SVC-TEST");
      if (remaining > 1) {
        rules.append(
            String.format(
                Locale.ROOT, " -m statistic --mode random --probability %.11f", 1.0 / remaining));
      }
      rules.append(" -j KUBE-SEP-").append(i).append('\n');
    }
    for (int i = 0; i < endpoints.size(); i++) {
      InetSocketAddress pod = endpoints.get(i);
      rules
          .append("-A KUBE-SEP-")
          .append(i)
          .append(" -p tcp -m tcp -j DNAT --to-destination ")
          .append(pod.getAddress().getHostAddress())
          .append(':')
          .append(pod.getPort())
          .append('\n');
    }
    rules.append("COMMIT\n");
    run(rules.toString());
  }

  private static void run(String rules) {
    String restore = TestEnvironment.require("iptables-nft-restore", "iptables").toString();
    try {
      Process process = new ProcessBuilder(restore).redirectErrorStream(true).start();
      process.getOutputStream().write(rules.getBytes(StandardCharsets.UTF_8));
      process.getOutputStream().close();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException("iptables-nft-restore did not finish in 10 s");
      }
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (process.exitValue() != 0) {
        throw new IllegalStateException(
            "iptables-nft-restore failed (" + process.exitValue() + "): " + output + "\n" + rules);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
