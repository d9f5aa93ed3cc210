package io.github.kubegrpclb.benchmarks;

import static io.github.kubegrpclb.benchmarks.SubsettingFleet.backends;

import io.github.kubegrpclb.benchmarks.SubsettingFleet.GrpcRandom;
import io.github.kubegrpclb.benchmarks.SubsettingFleet.Ours;
import io.grpc.EquivalentAddressGroup;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Subsetting without a network: N clients over M backends, connections per backend and connections
 * moved by scale events, for our deterministic subsetting (as the policies apply it: the SRE book's
 * subsets with a client index only, the deterministic aperture with the client count too) and
 * grpc-java's {@code random_subsetting_experimental} (gRFC A68) in the same run. Both are the real
 * balancers from the registry, configured through their JSON config, one instance per client,
 * driven by a fake Helper: only public API. This class holds the per-backend spread and the
 * backend/client scale events; the model is {@code SubsettingFleet}, the client-pod churn table
 * {@code ClientChurnSimulation}. Single-threaded.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * io.github.kubegrpclb.benchmarks.SubsettingSimulation} (about a minute); prints Markdown.
 */
public final class SubsettingSimulation {
  private SubsettingSimulation() {}

  public static void main(String[] args) {
    System.out.print(report());
  }

  static final String SRE = "deterministic, SRE book (ours, index only)";
  static final String APERTURE = "deterministic aperture (ours, index and count)";
  private static final String[] NAMES = {
    SRE, APERTURE, "random_subsetting_experimental (grpc-java)"
  };

  private static SubsettingFleet[] fleets(int clients, int servers, int size) {
    List<EquivalentAddressGroup> initial = backends(0, servers);
    return new SubsettingFleet[] {
      new SubsettingFleet(i -> new Ours(i, size, false), clients, initial),
      new SubsettingFleet(i -> new Ours(i, size, true), clients, initial),
      new SubsettingFleet(i -> new GrpcRandom(size), clients, initial)
    };
  }

  /** The Markdown sections, for {@code ScenarioBenchmark}. */
  public static String report() {
    StringBuilder md = new StringBuilder();
    md.append("## Subsetting: connections per backend (simulation, no network)\n\n")
        .append("`SubsettingSimulation`: N clients, M backends, subset size k; ours is")
        .append(" `DeterministicSubset` as both policies apply it (client indexes 0..N-1): the SRE")
        .append(" book's subsets when only the index is known, the deterministic aperture when the")
        .append(" client count N is known too (`kubernetes:///` with a client Service); the")
        .append(" baseline is grpc-java's `random_subsetting_experimental` (grpc-util, gRFC A68),")
        .append(" one real balancer per client, in the same run. SRE book anchor (random")
        .append(" subsetting, 300 x 300, k 30): least-loaded 63 %, most-loaded 121 % of the")
        .append(" mean.\n\n")
        .append("| clients x backends, k | subsetting | min / mean | max / mean | max / min |\n")
        .append("|---|---|---|---|---|\n");
    int[][] shapes = {{300, 300, 30}, {1000, 1000, 30}, {1000, 300, 10}, {305, 300, 30}};
    for (int[] shape : shapes) {
      SubsettingFleet[] fleets = fleets(shape[0], shape[1], shape[2]);
      for (int f = 0; f < fleets.length; f++) {
        double[] s = fleets[f].spread();
        md.append(
            String.format(
                Locale.ROOT,
                "| %,d x %,d, %d | %s | %.0f %% | %.0f %% | %.2f |%n",
                shape[0],
                shape[1],
                shape[2],
                NAMES[f],
                100 * s[0] / s[2],
                100 * s[1] / s[2],
                s[1] / s[0]));
      }
    }
    md.append("\n").append(churn()).append(ClientChurnSimulation.report());
    return md.toString();
  }

  private static String churn() {
    StringBuilder md = new StringBuilder();
    md.append("## Subsetting: connections moved per scale event (300 clients x 300 backends,")
        .append(" k 30)\n\n")
        .append("Connections closed (each replaced by one opened elsewhere) across the fleet, and")
        .append(" max / min connections per backend after the event. Lower bound: a removed")
        .append(" backend's 30 connections must move; an added one needs 30 to be level. Client")
        .append(" events include the joining or leaving client's own connections (30 or 31); the")
        .append(" aperture moves the others' arcs by a fraction of a backend.\n\n")
        .append("| event | subsetting | closed | opened | max / min after |\n")
        .append("|---|---|---|---|---|\n");
    String[] events = {
      "1 backend added (300 -> 301)",
      "1 backend removed (301 -> 300)",
      "1 backend replaced (rolling update step)",
      "every backend replaced, one at a time (300 steps)",
      "backends +10 % (300 -> 330, subsets per round 10 -> 11)",
      "clients +10 % (300 -> 330)",
      "1 client added (300 -> 301, index 300)",
      "1 client removed (300 -> 299, index 299)"
    };
    for (int e = 0; e < events.length; e++) {
      SubsettingFleet[] fleets = fleets(300, 300, 30);
      for (int f = 0; f < fleets.length; f++) {
        SubsettingFleet fleet = fleets[f];
        long closed = 0;
        long opened = 0;
        switch (e) {
          case 0 -> {
            fleet.updateBackends(backends(0, 301));
            closed = fleet.closed;
            opened = fleet.opened;
          }
          case 1 -> {
            fleet.updateBackends(backends(0, 301));
            fleet.updateBackends(backends(0, 300));
            closed = fleet.closed;
            opened = fleet.opened;
          }
          case 2 -> {
            List<EquivalentAddressGroup> next = backends(0, 300);
            next.set(150, backends(1000, 1001).get(0));
            fleet.updateBackends(next);
            closed = fleet.closed;
            opened = fleet.opened;
          }
          case 3 -> {
            List<EquivalentAddressGroup> next = backends(0, 300);
            for (int i = 0; i < 300; i++) {
              next.set(i, backends(1000 + i, 1001 + i).get(0));
              fleet.updateBackends(new ArrayList<>(next));
              closed += fleet.closed;
              opened += fleet.opened;
            }
          }
          case 4 -> {
            fleet.updateBackends(backends(0, 330));
            closed = fleet.closed;
            opened = fleet.opened;
          }
          case 5 -> {
            fleet.resizeClients(330);
            closed = fleet.closed;
            opened = fleet.opened;
          }
          case 6 -> {
            fleet.resizeClients(301);
            closed = fleet.closed;
            opened = fleet.opened;
          }
          default -> {
            fleet.resizeClients(299);
            closed = fleet.closed;
            opened = fleet.opened;
          }
        }
        double[] s = fleet.spread();
        md.append(
            String.format(
                Locale.ROOT,
                "| %s | %s | %,d | %,d | %.2f |%n",
                events[e],
                NAMES[f],
                closed,
                opened,
                s[1] / s[0]));
      }
    }
    return md.append("\n").toString();
  }
}
