package io.github.kubegrpclb.benchmarks;

import io.github.kubegrpclb.core.StreamRebalancing;
import io.github.kubegrpclb.testing.LoopbackPods;
import io.github.kubegrpclb.testing.ManualNameResolverProvider;
import io.github.kubegrpclb.testing.PodService;
import io.github.kubegrpclb.testing.ReopeningStreams;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * Long-lived streams after a scale-up (issue 23): 64 server streams ({@link PodService#WATCH}) on 4
 * loopback pods, kept open by a client that re-opens a stream when it ends ({@link
 * ReopeningStreams}); the endpoint set then grows to 8 pods. Streams per pod are sampled every
 * second for 30 s after the scale-up, for grpc-java's round_robin (the same-run baseline), and both
 * policies with stream rebalancing off and on (its defaults: interval 5 s, slow start 10 s). Every
 * row: fresh pods and a fresh channel, the interceptor installed.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * io.github.kubegrpclb.benchmarks.StreamRebalancingScenario [seconds]} (default 30).
 */
public final class StreamRebalancingScenario {
  private static final int STREAMS = 64;
  private static final int[] SHOWN = {0, 5, 10, 15, 20, 30};

  private StreamRebalancingScenario() {}

  public static void main(String[] args) {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
    System.out.print(markdown(seconds));
    System.exit(0); // gRPC's shared Netty threads would keep the JVM up a while
  }

  /** The section of docs/benchmarks.md, with its heading (30 s per row). */
  static String section() {
    return "## Long-lived streams after a scale-up (4 -> 8 pods, 64 server streams)\n\n"
        + "`StreamRebalancingScenario`: streams per pod after the endpoint set grew, 4 old / 4 new;"
        + " every row fresh pods and channel, the client re-opens moved streams. Rebalancing on"
        + " uses the option's defaults (interval 5 s, slow start 10 s); see"
        + " [streams.md](streams.md).\n\n"
        + markdown(30)
        + "\n";
  }

  static String markdown(int seconds) {
    Map<String, ?> on = Map.of("streamRebalancing", Map.of("enabled", true));
    StringBuilder md = new StringBuilder("| policy | streams per pod (4 old / 4 new) at");
    for (int s : SHOWN) {
      if (s <= seconds) {
        md.append(s == 0 ? " " : ", ").append(s).append(" s");
      }
    }
    md.append(" | max/min <= 1.5 after | streams moved | streams cut |\n|---|---|---|---|---|\n");
    md.append(row("round_robin (grpc-java)", "round_robin", Map.of(), seconds));
    md.append(row("kube_round_robin, rebalancing off", "kube_round_robin", Map.of(), seconds));
    md.append(row("kube_round_robin, rebalancing on", "kube_round_robin", on, seconds));
    md.append(row("peak_ewma, rebalancing off", "peak_ewma", Map.of(), seconds));
    md.append(row("peak_ewma, rebalancing on", "peak_ewma", on, seconds));
    return md.toString();
  }

  private static String row(String label, String policy, Map<String, ?> config, int seconds) {
    try (LoopbackPods pods = LoopbackPods.start(8)) {
      ManualNameResolverProvider resolver =
          new ManualNameResolverProvider(pods.addressGroups().subList(0, 4));
      ManagedChannel managed =
          resolver
              .channelBuilder()
              .defaultServiceConfig(Map.of("loadBalancingConfig", List.of(Map.of(policy, config))))
              .build();
      try {
        Channel channel = ClientInterceptors.intercept(managed, StreamRebalancing.interceptor());
        warm(channel);
        try (ReopeningStreams streams =
            ReopeningStreams.start(channel, STREAMS, StreamRebalancing::isMove)) {
          Awaitility.await()
              .atMost(Duration.ofSeconds(20))
              .until(() -> streams.established() == STREAMS);
          resolver.update(pods.addressGroups());
          long start = System.nanoTime();
          List<String> samples = new ArrayList<>();
          double balancedAfter = -1;
          for (int s = 0; s <= seconds; s++) {
            long due = start + TimeUnit.SECONDS.toNanos(s);
            long wait = due - System.nanoTime();
            if (wait > 0) {
              TimeUnit.NANOSECONDS.sleep(wait); // a fixed sampling schedule, not a wait for state
            }
            int[] counts = counts(streams.perPod(), pods.names());
            if (balancedAfter < 0 && spread(counts) <= 1.5) {
              balancedAfter = s;
            }
            if (contains(SHOWN, s)) {
              samples.add(text(counts));
            }
          }
          return String.format(
              Locale.ROOT,
              "| %s | %s | %s | %d | %d |%n",
              label,
              String.join(", ", samples),
              balancedAfter < 0 ? "not within " + seconds + " s" : "~" + (int) balancedAfter + " s",
              streams.moved(),
              streams.cut());
        }
      } finally {
        managed.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Unary calls until all 4 first pods answered: the application ran before the scale-up. */
  private static void warm(Channel channel) {
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              Set<String> seen = new HashSet<>();
              for (int i = 0; i < 16; i++) {
                try {
                  seen.add(
                      PodService.whoami(
                          channel, CallOptions.DEFAULT.withDeadlineAfter(1, TimeUnit.SECONDS)));
                } catch (StatusRuntimeException e) {
                  return false;
                }
              }
              return seen.size() == 4;
            });
  }

  private static int[] counts(Map<String, Integer> perPod, List<String> names) {
    int[] counts = new int[names.size()];
    for (int i = 0; i < counts.length; i++) {
      counts[i] = perPod.getOrDefault(names.get(i), 0);
    }
    return counts;
  }

  private static double spread(int[] counts) {
    int max = 0;
    int min = Integer.MAX_VALUE;
    for (int c : counts) {
      max = Math.max(max, c);
      min = Math.min(min, c);
    }
    return min == 0 ? Double.POSITIVE_INFINITY : (double) max / min;
  }

  private static String text(int[] counts) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < counts.length; i++) {
      out.append(i == 4 ? " / " : i == 0 ? "" : " ").append(counts[i]);
    }
    return out.toString();
  }

  private static boolean contains(int[] values, int value) {
    for (int v : values) {
      if (v == value) {
        return true;
      }
    }
    return false;
  }
}
