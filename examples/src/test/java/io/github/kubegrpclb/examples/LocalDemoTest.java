package io.github.kubegrpclb.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

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
}
