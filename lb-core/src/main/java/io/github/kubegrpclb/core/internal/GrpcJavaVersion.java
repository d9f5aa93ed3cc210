package io.github.kubegrpclb.core.internal;

import io.grpc.NameResolver;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.annotation.Nullable;

/**
 * The range of grpc-java versions this library supports, and the check that the one on the
 * classpath is in it. Both resolvers and both policies call {@link #check()} on first use, so an
 * older grpc-java fails there with a message naming the version found and the range, not with a
 * {@code NoSuchMethodError} or {@code NoClassDefFoundError} in the middle of a call. Stateless; the
 * runtime verdict is computed once and is thread-safe.
 */
public final class GrpcJavaVersion {
  /** The oldest grpc-java the library compiles and runs against (CI runs the tests on it). */
  public static final String OLDEST = "1.70.0";

  /** The grpc-java the library is built and tested with. */
  public static final String NEWEST_TESTED = "1.85.1";

  /*
   * Two independent signals, because either can be missing: grpc-api's manifest carries
   * Implementation-Version (absent in shaded or merged jars), and a class that first appeared in
   * 1.70 (NameResolver.Args.Key, which the resolvers' options keys are) is present or not. The
   * class probe is the one that decides when the version is unknown.
   */
  private static final int OLDEST_MINOR = 70;
  private static final String PROBE_CLASS = "io.grpc.NameResolver$Args$Key";
  private static final Pattern VERSION = Pattern.compile("(\\d+)\\.(\\d+)(?:\\.\\d+)?(?:[-.].*)?");

  @Nullable
  private static final String RUNTIME_PROBLEM =
      problem(NameResolver.class.getPackage().getImplementationVersion(), GrpcJavaVersion::present);

  private GrpcJavaVersion() {}

  /**
   * Throws if the grpc-java on the classpath is older than {@link #OLDEST}.
   *
   * @throws IllegalStateException naming the version found, the supported range and the fix
   */
  public static void check() {
    if (RUNTIME_PROBLEM != null) {
      throw new IllegalStateException(RUNTIME_PROBLEM);
    }
  }

  /**
   * Why grpc-java {@code implementationVersion} (null when unknown) is unsupported, or null when it
   * is supported; {@code classPresent} answers whether a class name loads.
   */
  @Nullable
  static String problem(@Nullable String implementationVersion, Predicate<String> classPresent) {
    boolean probeMissing = !classPresent.test(PROBE_CLASS);
    boolean tooOld = false;
    if (implementationVersion != null) {
      Matcher m = VERSION.matcher(implementationVersion);
      if (m.matches()) {
        int major = Integer.parseInt(m.group(1));
        int minor = Integer.parseInt(m.group(2));
        tooOld = major < 1 || (major == 1 && minor < OLDEST_MINOR);
      }
    }
    if (!tooOld && !probeMissing) {
      return null;
    }
    String found =
        implementationVersion != null
            ? "grpc-java " + implementationVersion
            : "a grpc-java of unknown version (grpc-api's manifest has no Implementation-Version)";
    return "kube-grpc-lb needs grpc-java "
        + OLDEST
        + " or newer (tested with "
        + OLDEST
        + " and "
        + NEWEST_TESTED
        + "), but found "
        + found
        + (probeMissing ? ", which lacks " + PROBE_CLASS.replace('$', '.') : "")
        + ". Upgrade io.grpc:grpc-api (for example import io.grpc:grpc-bom "
        + NEWEST_TESTED
        + ") or check which dependency pins the older grpc-java (mvn dependency:tree -Dincludes=io.grpc).";
  }

  private static boolean present(String className) {
    try {
      Class.forName(className, false, GrpcJavaVersion.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }
}
