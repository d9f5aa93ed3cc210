package io.github.kubegrpclb.testing;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;

/**
 * Finds the external programs some tests need (BIND's named, iptables, unshare). Where one is
 * missing the test is skipped with a message naming the Debian package, except in CI ({@code
 * CI=true}), where a missing program fails the test: CI must run every test.
 */
public final class TestEnvironment {
  private static final String[] EXTRA_DIRS = {"/usr/sbin", "/sbin", "/usr/local/sbin"};

  private TestEnvironment() {}

  /** True when the {@code CI} environment variable is {@code true}. */
  public static boolean inCi() {
    return "true".equalsIgnoreCase(System.getenv("CI"));
  }

  /** Finds {@code program} on the PATH or in the sbin folders. */
  public static Optional<Path> find(String program) {
    String path = System.getenv().getOrDefault("PATH", "");
    for (String dir :
        (path + File.pathSeparator + String.join(File.pathSeparator, EXTRA_DIRS))
            .split(File.pathSeparator)) {
      if (dir.isEmpty()) {
        continue;
      }
      Path candidate = Path.of(dir, program);
      if (Files.isExecutable(candidate)) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }

  /**
   * Returns the path of {@code program}; if it is missing, skips the test (fails it in CI) with a
   * message naming the package that provides it.
   */
  public static Path require(String program, String debianPackage) {
    Optional<Path> found = find(program);
    if (found.isEmpty()) {
      String message =
          program
              + " is not installed: this test needs the Debian package '"
              + debianPackage
              + "' (apt-get install "
              + debianPackage
              + "; .ci/run installs it)";
      if (inCi()) {
        throw new AssertionError("CI=true but " + message);
      }
      Assumptions.abort(message);
    }
    return found.get();
  }
}
