package io.github.kubegrpclb.core.internal;

/**
 * Whether the OpenTelemetry API is on the classpath. Every use of an OpenTelemetry class sits
 * behind {@link #PRESENT}, so without the optional dependency no such class is ever loaded.
 */
final class OpenTelemetryPresence {
  static final boolean PRESENT = isPresent("io.opentelemetry.api.metrics.Meter");

  private OpenTelemetryPresence() {}

  static boolean isPresent(String className) {
    try {
      Class.forName(className, false, OpenTelemetryPresence.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }
}
