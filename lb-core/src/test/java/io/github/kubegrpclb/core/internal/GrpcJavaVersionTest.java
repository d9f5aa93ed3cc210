package io.github.kubegrpclb.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class GrpcJavaVersionTest {
  private static final Predicate<String> HAS_ARGS_KEY = name -> true;
  private static final Predicate<String> LACKS_ARGS_KEY =
      name -> !name.equals("io.grpc.NameResolver$Args$Key");

  @Test
  void problem_oldestAndNewerVersions_areSupported() {
    assertThat(GrpcJavaVersion.problem("1.70.0", HAS_ARGS_KEY)).isNull();
    assertThat(GrpcJavaVersion.problem("1.85.1", HAS_ARGS_KEY)).isNull();
    assertThat(GrpcJavaVersion.problem("1.100.0-SNAPSHOT", HAS_ARGS_KEY)).isNull();
    assertThat(GrpcJavaVersion.problem("2.0.0", HAS_ARGS_KEY)).isNull();
  }

  @Test
  void problem_olderVersion_namesTheVersionFoundAndTheRange() {
    String problem = GrpcJavaVersion.problem("1.69.1", LACKS_ARGS_KEY);

    assertThat(problem)
        .contains("found grpc-java 1.69.1")
        .contains("needs grpc-java 1.70.0 or newer")
        .contains("tested with 1.70.0 and " + GrpcJavaVersion.NEWEST_TESTED)
        .contains("io.grpc.NameResolver.Args.Key")
        .contains("Upgrade io.grpc:grpc-api");
  }

  @Test
  void problem_olderVersionEvenWithTheProbeClass_isUnsupported() {
    assertThat(GrpcJavaVersion.problem("1.62.2", HAS_ARGS_KEY)).contains("found grpc-java 1.62.2");
  }

  @Test
  void problem_unknownVersion_isDecidedByTheProbeClass() {
    assertThat(GrpcJavaVersion.problem(null, HAS_ARGS_KEY)).isNull();
    assertThat(GrpcJavaVersion.problem("custom-build", HAS_ARGS_KEY)).isNull();
    assertThat(GrpcJavaVersion.problem(null, LACKS_ARGS_KEY))
        .contains("unknown version")
        .contains("lacks io.grpc.NameResolver.Args.Key");
  }

  @Test
  void check_grpcJavaOfThisBuild_passes() {
    assertThatCode(GrpcJavaVersion::check).doesNotThrowAnyException();
  }
}
