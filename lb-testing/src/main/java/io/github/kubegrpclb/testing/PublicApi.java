package io.github.kubegrpclb.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * A library module's public API as text, one line per public type and per public or protected
 * member, sorted, for a checked-in baseline: {@link #check} fails a test when the API differs from
 * it, so an API change is seen in review. Types in {@code internal} packages and types a user
 * cannot reach (nested in a non-public type) are left out.
 *
 * <p>To accept a change, run the module's API test with {@code -Dapi.update=true}, which rewrites
 * the baseline (see the README, "Public API baseline"). Stateless.
 */
public final class PublicApi {
  /** System property that makes {@link #check} rewrite the baseline in place of comparing. */
  public static final String UPDATE_PROPERTY = "api.update";

  private PublicApi() {}

  /**
   * Compares the public API of the classes compiled next to {@code anchor} (the module's {@code
   * target/classes}) with the baseline file, or rewrites the file when {@value #UPDATE_PROPERTY} is
   * true.
   *
   * @param anchor any class of the module
   * @param baseline the checked-in dump, relative to the module directory
   * @throws AssertionError naming the lines added and removed, and the command that accepts them
   */
  public static void check(Class<?> anchor, Path baseline) {
    List<String> actual = dump(anchor);
    try {
      if (Boolean.getBoolean(UPDATE_PROPERTY)) {
        Files.createDirectories(baseline.toAbsolutePath().getParent());
        Files.write(baseline, actual, StandardCharsets.UTF_8);
        return;
      }
      List<String> expected =
          Files.exists(baseline) ? Files.readAllLines(baseline, StandardCharsets.UTF_8) : List.of();
      if (!expected.equals(actual)) {
        List<String> added = new ArrayList<>(actual);
        added.removeAll(expected);
        List<String> removed = new ArrayList<>(expected);
        removed.removeAll(actual);
        throw new AssertionError(
            "The public API differs from "
                + baseline
                + "\n  added:   "
                + String.join("\n           ", added)
                + "\n  removed: "
                + String.join("\n           ", removed)
                + "\nIf the change is intended, rewrite the baseline with:\n  mvn -B test"
                + " -Dtest=PublicApiTest -Dsurefire.failIfNoSpecifiedTests=false -D"
                + UPDATE_PROPERTY
                + "=true");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The sorted API lines of the classes compiled next to {@code anchor}. */
  public static List<String> dump(Class<?> anchor) {
    Path root;
    try {
      root = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
    TreeSet<String> lines = new TreeSet<>();
    try (Stream<Path> files = Files.walk(root)) {
      for (Path file : (Iterable<Path>) files::iterator) {
        String relative = root.relativize(file).toString().replace('\\', '/');
        if (!relative.endsWith(".class") || relative.contains("/internal/")) {
          continue;
        }
        String name =
            relative.substring(0, relative.length() - ".class".length()).replace('/', '.');
        if (name.endsWith("package-info") || name.endsWith("module-info")) {
          continue;
        }
        Class<?> type = Class.forName(name, false, anchor.getClassLoader());
        if (reachable(type)) {
          describe(type, lines);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(e);
    }
    return List.copyOf(lines);
  }

  private static boolean reachable(Class<?> type) {
    if (type.isAnonymousClass() || type.isLocalClass() || type.isSynthetic()) {
      return false;
    }
    for (Class<?> t = type; t != null; t = t.getDeclaringClass()) {
      int modifiers = t.getModifiers();
      boolean nested = t.getDeclaringClass() != null;
      if (!Modifier.isPublic(modifiers) && !(nested && Modifier.isProtected(modifiers))) {
        return false;
      }
    }
    return true;
  }

  private static void describe(Class<?> type, TreeSet<String> lines) {
    String prefix = type.getName() + ": ";
    lines.add(prefix + type.toGenericString() + supertypes(type));
    for (Constructor<?> constructor : type.getDeclaredConstructors()) {
      if (visible(constructor)) {
        lines.add(prefix + constructor.toGenericString());
      }
    }
    for (Method method : type.getDeclaredMethods()) {
      if (visible(method) && !method.isBridge()) {
        lines.add(
            prefix
                + method
                    .toGenericString()
                    .replace(
                        type.getName() + "." + method.getName() + "(", method.getName() + "("));
      }
    }
    for (Field field : type.getDeclaredFields()) {
      if (visible(field)) {
        String text = field.toGenericString();
        lines.add(
            prefix
                + text.substring(
                    0, text.length() - type.getName().length() - field.getName().length() - 1)
                + field.getName());
      }
    }
  }

  private static String supertypes(Class<?> type) {
    StringBuilder s = new StringBuilder();
    if (type.getGenericSuperclass() != null
        && type.getSuperclass() != Object.class
        && !type.isEnum()
        && !type.isRecord()) {
      s.append(" extends ").append(type.getGenericSuperclass().getTypeName());
    }
    if (type.getGenericInterfaces().length > 0) {
      s.append(type.isInterface() ? " extends " : " implements ");
      for (int i = 0; i < type.getGenericInterfaces().length; i++) {
        s.append(i == 0 ? "" : ", ").append(type.getGenericInterfaces()[i].getTypeName());
      }
    }
    return s.toString();
  }

  private static boolean visible(Member member) {
    int modifiers = member.getModifiers();
    return !member.isSynthetic()
        && (Modifier.isPublic(modifiers) || Modifier.isProtected(modifiers));
  }
}
