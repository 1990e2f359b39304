package org.lens4j.hook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.lens4j.Model;

/**
 * {@code org.lens4j.hook} is the hook vocabulary; {@link Model} runs hooks. Checked over the
 * compiled classes with the JDK's {@code jdeps -verbose:class}.
 *
 * <p>The rule: <b>no class of {@code org.lens4j.hook} refers to a root-package class that itself
 * refers to {@code org.lens4j.hook}</b> (today that root set is {@code Model} alone), so the two
 * packages never import each other class by class. Hook classes may still use root value types
 * that know nothing of hooks ({@code Tensor}, {@code Names}, {@code ActName}, {@code Lens} for
 * engine calls): a package-level cycle remains through those, by design, until the plumbing moves
 * to an internal package (issue 17 item 1). The engine access the runner needs goes through
 * {@link HookTarget}, which {@code Model} implements.
 *
 * <p>And no main source decides anything by a lens4j type's {@code toString()}: a scan of
 * {@code src/main/java} for {@code toString().startsWith(}, {@code .equals(}, {@code .contains(},
 * {@code .endsWith(}, allowing only the lines listed in {@link #ALLOWED} (file-name checks on
 * {@link Path}, which is not a lens4j type).
 *
 * <pre>{@code
 * mvn -B -q -o test -Dtest=HookBoundaryTest -Dsurefire.failIfNoSpecifiedTests=false
 * }</pre>
 */
class HookBoundaryTest {
    /** Lines that compare a {@code toString()} legitimately, with the reason. */
    private static final Map<String, String> ALLOWED = Map.of(
            "p.getFileName().toString().startsWith(\"python\")",
            "EmbeddedSetup: a java.nio.file.Path file name (libpython3.x), not a lens4j type");

    private static final Pattern EDGE = Pattern.compile("^\\s+(org\\.lens4j\\.\\S+)\\s+->\\s+(org\\.lens4j\\.\\S+)");

    @Test
    void noHookClassRefersToARootClassThatRefersBackToHook() throws Exception {
        Map<String, Set<String>> deps = classDependencies();
        assertTrue(deps.keySet().stream().anyMatch(c -> c.startsWith("org.lens4j.hook.")), "jdeps saw no hook class: " + deps.keySet());
        Set<String> rootUsingHook = new TreeSet<>();
        deps.forEach((from, tos) -> {
            if (isRoot(from) && tos.stream().anyMatch(HookBoundaryTest::isHook)) {
                rootUsingHook.add(from);
            }
        });
        // The check must bite: Model runs hooks, so it refers to hook/ and belongs to the set.
        assertTrue(rootUsingHook.contains(Model.class.getName()), "jdeps should show Model -> org.lens4j.hook: " + rootUsingHook);
        List<String> back = new ArrayList<>();
        deps.forEach((from, tos) -> {
            if (isHook(from)) {
                tos.stream().filter(rootUsingHook::contains).forEach(to -> back.add(from + " -> " + to));
            }
        });
        assertEquals(List.of(), back, "org.lens4j.hook must not refer to root classes that refer to it " + rootUsingHook);
    }

    @Test
    void noMainSourceDecidesByToString() throws IOException {
        Pattern trick = Pattern.compile("toString\\(\\)\\s*\\.\\s*(startsWith|equals|contains|endsWith)\\(");
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                List<String> lines = Files.readAllLines(f);
                for (int i = 0; i < lines.size(); i++) {
                    String line = lines.get(i);
                    if (trick.matcher(line).find() && ALLOWED.keySet().stream().noneMatch(line::contains)) {
                        found.add(f + ":" + (i + 1) + ": " + line.trim());
                    }
                }
            }
        }
        assertEquals(List.of(), found, "decide by typed queries (Names.isAll(), Names.explicitNames()), not by toString()");
    }

    private static boolean isHook(String cls) {
        return cls.startsWith("org.lens4j.hook.");
    }

    private static boolean isRoot(String cls) {
        return cls.startsWith("org.lens4j.") && cls.indexOf('.', "org.lens4j.".length()) < 0;
    }

    /** Class -> lens4j classes it refers to, over the compiled main classes. */
    private static Map<String, Set<String>> classDependencies() throws URISyntaxException {
        Path classes = Path.of(Model.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow(() -> new AssertionError("the JDK has no jdeps tool"));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = jdeps.run(new PrintWriter(out), new PrintWriter(err), "-verbose:class", "-filter:none", classes.toString());
        assertEquals(0, rc, "jdeps failed: " + err);
        Map<String, Set<String>> deps = new TreeMap<>();
        for (String line : out.toString().split("\n")) {
            Matcher m = EDGE.matcher(line);
            if (m.find()) {
                deps.computeIfAbsent(m.group(1), k -> new TreeSet<>()).add(m.group(2));
            }
        }
        return deps;
    }
}
