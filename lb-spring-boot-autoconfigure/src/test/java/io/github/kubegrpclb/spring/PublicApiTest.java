package io.github.kubegrpclb.spring;

import io.github.kubegrpclb.testing.PublicApi;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Fails on a change of this module's public API that the baseline does not show. */
class PublicApiTest {
  @Test
  void publicApi_matchesTheBaseline() {
    PublicApi.check(
        KubeGrpcLbAutoConfiguration.class,
        Path.of("src/test/resources/api/lb-spring-boot-autoconfigure.txt"));
  }
}
