import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * Checks a Maven Central Publisher Portal bundle (release/central-bundle's zip) against what Central
 * requires, so that CI sees a bundle Central would reject. Run with the JDK's source launcher:
 *
 * <pre>java .ci/CentralBundleCheck.java BUNDLE.zip GROUP_ID VERSION [--signed] ARTIFACT_ID...</pre>
 *
 * <p>It checks that the bundle holds exactly the named components, each in the Maven repository
 * layout with its POM and, for jar packaging, the jar, -sources.jar and -javadoc.jar; that each of
 * these has .md5 and .sha1 files that match it (and any other checksum given matches); that signatures (.asc) are on every file or on
 * none (on every file with --signed); and that each POM, with what it inherits from a parent in the
 * bundle, has the metadata Central requires (name, description, url, license, developer, scm) with
 * every property resolved, the same repository address in all of them, and no SNAPSHOT anywhere.
 * Single-threaded; prints every problem found, then exits 1 if there was one.
 */
public final class CentralBundleCheck {
  private static final Pattern PROPERTY = Pattern.compile("\\$\\{([^}]+)}");

  private final List<String> problems = new ArrayList<>();

  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println(
          "usage: java .ci/CentralBundleCheck.java BUNDLE.zip GROUP_ID VERSION [--signed] ARTIFACT_ID...");
      System.exit(2);
    }
    List<String> rest = new ArrayList<>(List.of(args).subList(3, args.length));
    boolean signed = rest.remove("--signed");
    CentralBundleCheck check = new CentralBundleCheck();
    Map<String, byte[]> files = readZip(Path.of(args[0]));
    check.check(files, args[1], args[2], signed, new TreeSet<>(rest));
    if (!check.problems.isEmpty()) {
      check.problems.forEach(p -> System.err.println("central bundle " + args[0] + ": " + p));
      System.exit(1);
    }
    System.out.printf(
        "central bundle: ok, %d components (%s), %d files, %s%n",
        rest.size(), String.join(", ", new TreeSet<>(rest)), files.size(),
        signed ? "signed" : "signatures absent or complete");
  }

  private static Map<String, byte[]> readZip(Path zip) throws IOException {
    Map<String, byte[]> files = new TreeMap<>();
    try (ZipInputStream in = new ZipInputStream(Files.newInputStream(zip))) {
      for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
        if (!e.isDirectory()) {
          files.put(e.getName(), in.readAllBytes());
        }
      }
    }
    return files;
  }

  private void check(
      Map<String, byte[]> files, String groupId, String version, boolean signed, Set<String> expected)
      throws Exception {
    String groupPath = groupId.replace('.', '/') + "/";
    Map<String, Map<String, byte[]>> byComponent = new TreeMap<>();
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      String name = f.getKey();
      String[] parts = name.startsWith(groupPath) ? name.substring(groupPath.length()).split("/") : null;
      if (parts == null || parts.length != 3 || !parts[1].equals(version)) {
        problems.add(name + " is not " + groupPath + "<artifactId>/" + version + "/<file>");
        continue;
      }
      byComponent.computeIfAbsent(parts[0], k -> new TreeMap<>()).put(parts[2], f.getValue());
    }
    if (!byComponent.keySet().equals(expected)) {
      problems.add("holds components " + byComponent.keySet() + ", expected exactly " + expected);
    }
    Map<String, Element> poms = new LinkedHashMap<>();
    for (String artifactId : expected) {
      Map<String, byte[]> component = byComponent.getOrDefault(artifactId, Map.of());
      String base = artifactId + "-" + version;
      byte[] pomBytes = component.get(base + ".pom");
      if (pomBytes == null) {
        problems.add(artifactId + ": no " + base + ".pom");
        continue;
      }
      if (new String(pomBytes, StandardCharsets.UTF_8).contains("SNAPSHOT")) {
        problems.add(artifactId + ": its POM names a SNAPSHOT");
      }
      Element pom = parse(pomBytes).getDocumentElement();
      poms.put(artifactId, pom);
      String packaging = text(pom, "packaging", "jar");
      Set<String> required = new TreeSet<>(Set.of(base + ".pom"));
      if (packaging.equals("jar")) {
        required.addAll(Set.of(base + ".jar", base + "-sources.jar", base + "-javadoc.jar"));
        requireEntry(artifactId, component.get(base + ".jar"), ".class", "classes");
        requireEntry(artifactId, component.get(base + "-sources.jar"), ".java", "sources");
        requireEntry(artifactId, component.get(base + "-javadoc.jar"), "index.html", "javadoc");
      } else if (!packaging.equals("pom")) {
        problems.add(artifactId + ": packaging " + packaging + " is neither jar nor pom");
      }
      checkFiles(artifactId, component, required, signed);
    }
    checkMetadata(poms, groupId, version);
  }

  /** The required files, nothing else, each with matching checksums and all or no signatures. */
  private void checkFiles(
      String artifactId, Map<String, byte[]> component, Set<String> required, boolean signed)
      throws NoSuchAlgorithmException {
    Set<String> artifacts = new TreeSet<>();
    for (String name : component.keySet()) {
      if (!name.matches(".*\\.(md5|sha1|sha256|sha512|asc)")) {
        artifacts.add(name);
      }
    }
    if (!artifacts.equals(required)) {
      problems.add(artifactId + ": files " + artifacts + ", expected exactly " + required);
    }
    boolean anySignature = artifacts.stream().anyMatch(a -> component.containsKey(a + ".asc"));
    for (String artifact : artifacts) {
      checkSums(artifactId, component, artifact, true);
      byte[] signature = component.get(artifact + ".asc");
      if (signature != null) {
        checkSums(artifactId, component, artifact + ".asc", false); // optional for signatures
        if (!new String(signature, StandardCharsets.US_ASCII).startsWith("-----BEGIN PGP SIGNATURE")) {
          problems.add(artifactId + ": " + artifact + ".asc is not an armored PGP signature");
        }
      } else if (signed || anySignature) {
        problems.add(artifactId + ": " + artifact + " has no .asc signature");
      }
    }
  }

  /** Central requires .md5 and .sha1 of every file but signatures; any checksum given must match. */
  private void checkSums(
      String artifactId, Map<String, byte[]> component, String file, boolean required)
      throws NoSuchAlgorithmException {
    String[][] algorithms = {{"md5", "MD5"}, {"sha1", "SHA-1"}, {"sha256", "SHA-256"}, {"sha512", "SHA-512"}};
    for (String[] algorithm : algorithms) {
      byte[] sum = component.get(file + "." + algorithm[0]);
      if (sum == null) {
        if (required && (algorithm[0].equals("md5") || algorithm[0].equals("sha1"))) {
          problems.add(artifactId + ": " + file + " has no ." + algorithm[0]);
        }
        continue;
      }
      String actual =
          HexFormat.of().formatHex(MessageDigest.getInstance(algorithm[1]).digest(component.get(file)));
      if (!new String(sum, StandardCharsets.US_ASCII).trim().startsWith(actual)) {
        problems.add(artifactId + ": " + file + "." + algorithm[0] + " does not match the file");
      }
    }
  }

  /** Central's required POM elements, own or inherited from a parent POM in the same bundle. */
  private void checkMetadata(Map<String, Element> poms, String groupId, String version) {
    Set<String> repositories = new TreeSet<>();
    for (Map.Entry<String, Element> e : poms.entrySet()) {
      String artifactId = e.getKey();
      Element pom = e.getValue();
      List<Element> chain = new ArrayList<>(List.of(pom));
      Element parentRef = child(pom, "parent");
      if (parentRef != null) {
        Element parent = poms.get(text(parentRef, "artifactId", ""));
        if (parent == null || !text(parentRef, "version", "").equals(version)) {
          problems.add(
              artifactId + ": its parent " + text(parentRef, "artifactId", "?") + ":"
                  + text(parentRef, "version", "?") + " is not in the bundle");
        } else {
          chain.add(parent);
        }
      }
      Map<String, String> properties = new TreeMap<>();
      for (int i = chain.size() - 1; i >= 0; i--) {
        Element props = child(chain.get(i), "properties");
        for (Node n = props == null ? null : props.getFirstChild(); n != null; n = n.getNextSibling()) {
          if (n instanceof Element p) {
            properties.put(p.getTagName(), p.getTextContent().trim());
          }
        }
      }
      String pomGroup = text(pom, "groupId", parentRef == null ? "" : text(parentRef, "groupId", ""));
      if (!pomGroup.equals(groupId)
          || !text(pom, "artifactId", "").equals(artifactId)
          || !text(pom, "version", parentRef == null ? "" : version).equals(version)) {
        problems.add(artifactId + ": its POM is not " + groupId + ":" + artifactId + ":" + version);
      }
      for (String own : List.of("name", "description")) {
        require(artifactId, own, text(pom, own, ""), properties, "");
      }
      String[][] inherited = {
        {"url", null}, {"licenses/license/name", null}, {"licenses/license/url", "https://"},
        {"developers/developer/name", null}, {"scm/url", "https://"},
        {"scm/connection", "scm:"}, {"scm/developerConnection", "scm:"}
      };
      for (String[] path : inherited) {
        String value = "";
        for (Element p : chain) {
          value = path(p, path[0]);
          if (!value.isEmpty()) {
            break;
          }
        }
        String resolved = require(artifactId, path[0], value, properties, path[1] == null ? "" : path[1]);
        if (path[0].equals("scm/url")) {
          repositories.add(resolved);
        }
      }
    }
    if (repositories.size() > 1) {
      problems.add("the POMs name different repositories " + repositories
          + " (kubegrpclb.github in pom.xml and lb-bom/pom.xml must agree)");
    }
  }

  private String require(
      String artifactId, String element, String value, Map<String, String> properties, String prefix) {
    Matcher m = PROPERTY.matcher(value);
    StringBuilder resolved = new StringBuilder();
    while (m.find()) {
      String replacement = properties.get(m.group(1));
      if (replacement == null) {
        problems.add(artifactId + ": <" + element + "> uses ${" + m.group(1) + "}, defined nowhere");
        replacement = m.group();
      }
      m.appendReplacement(resolved, Matcher.quoteReplacement(replacement));
    }
    m.appendTail(resolved);
    String result = resolved.toString();
    if (result.isBlank()) {
      problems.add(artifactId + ": no <" + element + ">, own or inherited");
    } else if (!result.startsWith(prefix)) {
      problems.add(artifactId + ": <" + element + "> " + result + " does not start with " + prefix);
    }
    return result;
  }

  private void requireEntry(String artifactId, byte[] jar, String suffix, String what)
      throws IOException {
    if (jar == null) {
      return; // reported as a missing file
    }
    try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(jar))) {
      for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
        if (e.getName().endsWith(suffix)) {
          return;
        }
      }
    }
    problems.add(artifactId + ": its " + what + " jar holds no *" + suffix);
  }

  private static Document parse(byte[] xml) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    try (InputStream in = new ByteArrayInputStream(xml)) {
      return f.newDocumentBuilder().parse(in);
    }
  }

  private static Element child(Element parent, String name) {
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e && e.getTagName().equals(name)) {
        return e;
      }
    }
    return null;
  }

  private static String text(Element parent, String name, String otherwise) {
    Element e = child(parent, name);
    return e == null ? otherwise : e.getTextContent().trim();
  }

  private static String path(Element root, String path) {
    Element e = root;
    for (String step : path.split("/")) {
      e = e == null ? null : child(e, step);
    }
    return e == null ? "" : e.getTextContent().trim();
  }
}
