package io.github.kubegrpclb.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * Every Java snippet in README.md, docs/*.md and the libraries' Javadoc ({@code <pre>{@code
 * ...}</pre>}) compiles as written against the libraries, so an API change cannot leave a doc
 * behind. A snippet is compiled as the body of a method whose parameters are the few names snippets
 * take as given ({@code builder}, {@code myClient}).
 */
class DocSnippetsTest {
  private static final Path ROOT = Path.of("..");
  private static final Pattern MARKDOWN = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
  private static final Pattern JAVADOC =
      Pattern.compile("<pre>\\{@code\\n(.*?)}</pre>", Pattern.DOTALL);
  private static final String IMPORTS =
      "import io.fabric8.kubernetes.client.KubernetesClient;\n"
          + "import io.github.kubegrpclb.core.*;\n"
          + "import io.github.kubegrpclb.dns.*;\n"
          + "import io.github.kubegrpclb.endpointslice.*;\n"
          + "import io.github.kubegrpclb.sharding.*;\n"
          + "import io.grpc.*;\n"
          + "import java.time.Duration;\n"
          + "import java.util.List;\n"
          + "import java.util.Map;\n"
          + "import java.util.concurrent.TimeUnit;\n";
  private static final Pattern LIBRARY_SOURCE =
      Pattern.compile("\\.\\./lb-[a-z-]+/src/main/java/.*\\.java");
  private static final String GIVEN = "ManagedChannelBuilder<?> builder, KubernetesClient myClient";

  record Snippet(String source, int number, String code) {}

  static List<Snippet> snippets() throws IOException {
    List<Path> files = new ArrayList<>();
    files.add(ROOT.resolve("README.md"));
    try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
      docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(files::add);
    }
    try (Stream<Path> sources = Files.walk(ROOT)) {
      sources
          .filter(p -> LIBRARY_SOURCE.matcher(p.toString()).matches())
          .sorted()
          .forEach(files::add);
    }
    List<Snippet> snippets = new ArrayList<>();
    for (Path file : files) {
      String text = Files.readString(file, StandardCharsets.UTF_8);
      boolean javadoc = file.toString().endsWith(".java");
      Matcher m = (javadoc ? JAVADOC : MARKDOWN).matcher(text);
      int n = 0;
      while (m.find()) {
        String code = m.group(1);
        if (javadoc) {
          code = code.replaceAll("(?m)^\\s*\\* ?", "");
        }
        snippets.add(new Snippet(ROOT.relativize(file).toString(), ++n, code));
      }
    }
    return snippets;
  }

  @Test
  void everyJavaSnippet_compilesAsWritten() throws IOException {
    List<Snippet> snippets = snippets();
    assertThat(snippets).as("snippets found").hasSizeGreaterThan(5);
    List<JavaFileObject> units = new ArrayList<>();
    StringBuilder names = new StringBuilder();
    for (int i = 0; i < snippets.size(); i++) {
      Snippet s = snippets.get(i);
      String name = "Snippet" + i;
      names
          .append("\n  ")
          .append(name)
          .append(": ")
          .append(s.source())
          .append(" #")
          .append(s.number());
      String source =
          IMPORTS
              + "/** "
              + s.source()
              + " #"
              + s.number()
              + " */\nclass "
              + name
              + " {\n  static void run("
              + GIVEN
              + ") throws Exception {\n"
              + s.code()
              + "\n  }\n}\n";
      units.add(
          new SimpleJavaFileObject(
              URI.create("string:///" + name + ".java"), JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
              return source;
            }
          });
    }
    Path out = Files.createTempDirectory("snippets");
    JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
    StringWriter errors = new StringWriter();
    boolean ok =
        compiler
            .getTask(
                errors,
                null,
                null,
                List.of(
                    "-proc:none",
                    "-d",
                    out.toString(),
                    "-classpath",
                    System.getProperty("java.class.path")),
                null,
                units)
            .call();
    assertThat(ok).as("snippets fail to compile:%n%s%nwhere%s", errors, names).isTrue();
  }
}
