package io.github.kubegrpclb.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalDemoTest {

  @Test
  void run_showsHotspotThenBalancedThenSlowPodAvoided() {
    List<LocalDemo.Row> rows = LocalDemo.run(800);

    assertThat(rows).hasSize(6);
    assertThat(rows.get(0).perPod()).containsOnlyOnce(800L).filteredOn(c -> c == 0).hasSize(3);
    assertThat(rows.get(1).perPod()).containsOnly(200L);
    assertThat(rows.get(2).scenario()).contains("headless:///");
    assertThat(rows.get(2).perPod()).containsOnly(200L);
    assertThat(rows.get(3).scenario()).contains("kubernetes:///");
    assertThat(rows.get(3).perPod()).containsOnly(200L);
    long slowUnderRoundRobin = rows.get(4).perPod().get(LocalDemo.PODS - 1);
    long slowUnderEwma = rows.get(5).perPod().get(LocalDemo.PODS - 1);
    assertThat(slowUnderRoundRobin).isEqualTo(200L);
    assertThat(slowUnderEwma).isLessThan(80L);
    assertThat(rows).allSatisfy(row -> assertThat(row.result().failures()).isZero());
    assertThat(LocalDemo.format(rows)).contains("pick_first", "peak_ewma", "p99 ms");
  }

  @Test
  void main_printsTheTableAndItsExplanation_nothingElse(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("out.txt");
    Path err = dir.resolve("err.txt");
    Process demo =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path") + File.pathSeparator + "target/classes",
                LocalDemo.class.getName(),
                "200")
            .redirectOutput(out.toFile())
            .redirectError(err.toFile())
            .start();
    try {
      assertThat(demo.waitFor(300, TimeUnit.SECONDS)).as("demo finished").isTrue();
    } finally {
      demo.destroyForcibly();
    }

    assertThat(Files.readString(err, StandardCharsets.UTF_8)).isEmpty();
    List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
    assertThat(lines.stream().filter(l -> !l.isBlank()).findFirst())
        .hasValueSatisfying(first -> assertThat(first).startsWith("scenario"));
    // The table (10 lines), its explanation, and peak_ewma's snapshot (a header, one line a pod).
    assertThat(lines).hasSizeLessThan(25);
    assertThat(lines).anySatisfy(l -> assertThat(l).startsWith("peak_ewma balancer for"));
    assertThat(demo.exitValue()).isZero();
  }
}
