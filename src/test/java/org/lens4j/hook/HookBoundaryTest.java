package org.lens4j.hook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.lens4j.Model;
import org.lens4j.architecture.Jdeps;

/**
 * {@code org.lens4j.hook} is the hook vocabulary (values and result records); {@link Model} runs
 * hooks, through package-private classes of {@code org.lens4j}. Checked over the compiled
 * classes with the JDK's {@code jdeps -verbose:class}.
 *
 * <p>The rule: <b>no class of {@code org.lens4j.hook} refers to {@code org.lens4j.Model},
 * {@code org.lens4j.Lens}, anything in {@code org.lens4j.internal} or {@code org.lens4j.engine},
 * or a root-package class that itself refers to {@code org.lens4j.hook}</b> (Model, HookSet and
 * the hook runner). Hook values may use root value types that know nothing of hooks
 * ({@code Tensor}, {@code Names}, {@code ActName}, {@code Slice}, {@code RunOptions}).
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


    @Test
    void hookClassesReferToNoRunnerEngineOrInternalClass() throws Exception {
        Map<String, Set<String>> deps = Jdeps.classes();
        // The check must bite: jdeps sees the hook classes, the edges the rule forbids exist elsewhere
        // (Model runs hooks and calls the engine), and the rule flags such an edge when one is fed to it.
        assertTrue(deps.keySet().stream().anyMatch(c -> c.startsWith("org.lens4j.hook.")), "jdeps saw no hook class: " + deps.keySet());
        Set<String> rootUsingHook = rootClassesUsingHook(deps);
        assertTrue(rootUsingHook.containsAll(Set.of(Model.class.getName(), "org.lens4j.HookSet", "org.lens4j.HookRunner", "org.lens4j.HookWire")),
                "jdeps should show Model and the hook runner -> org.lens4j.hook: " + rootUsingHook);
        assertTrue(deps.getOrDefault(Model.class.getName(), Set.of()).stream().anyMatch(c -> c.startsWith("org.lens4j.internal.")),
                "jdeps should show Model -> org.lens4j.internal: " + deps.get(Model.class.getName()));
        assertTrue(deps.getOrDefault("org.lens4j.HookWire", Set.of()).stream().anyMatch(c -> c.startsWith("org.lens4j.internal.")),
                "jdeps should show HookWire -> org.lens4j.internal: " + deps.get("org.lens4j.HookWire"));
        Map<String, Set<String>> bad = new TreeMap<>(deps);
        bad.put("org.lens4j.hook.Example", Set.of("org.lens4j.Lens", "org.lens4j.internal.Ops", "org.lens4j.engine.Reply",
                "org.lens4j.Model", "org.lens4j.Tensor"));
        assertEquals(List.of("org.lens4j.hook.Example -> org.lens4j.Lens", "org.lens4j.hook.Example -> org.lens4j.Model",
                "org.lens4j.hook.Example -> org.lens4j.engine.Reply", "org.lens4j.hook.Example -> org.lens4j.internal.Ops"),
                violations(bad), "the rule must flag forbidden edges (and only those)");

        assertEquals(List.of(), violations(deps), "org.lens4j.hook must know nothing of Model, Lens, the engine or lens4j's internals; "
                + "root classes that refer to it: " + rootUsingHook);
    }

    /** Every edge from a hook class to a class the rule forbids, as "from -> to", sorted. */
    private static List<String> violations(Map<String, Set<String>> deps) {
        Set<String> rootUsingHook = rootClassesUsingHook(deps);
        List<String> out = new ArrayList<>();
        deps.forEach((from, tos) -> {
            if (isHook(from)) {
                tos.stream().filter(to -> forbidden(to, rootUsingHook)).sorted().forEach(to -> out.add(from + " -> " + to));
            }
        });
        return out;
    }

    private static boolean forbidden(String to, Set<String> rootUsingHook) {
        return to.equals("org.lens4j.Model") || to.equals("org.lens4j.Lens") || to.startsWith("org.lens4j.internal.")
                || to.startsWith("org.lens4j.engine.") || rootUsingHook.contains(to) || rootUsingHook.contains(outer(to));
    }

    /** Root classes (and their nested classes) that refer to a hook class. */
    private static Set<String> rootClassesUsingHook(Map<String, Set<String>> deps) {
        Set<String> out = new TreeSet<>();
        deps.forEach((from, tos) -> {
            if (isRoot(from) && tos.stream().anyMatch(HookBoundaryTest::isHook)) {
                out.add(outer(from));
            }
        });
        return out;
    }

    private static String outer(String cls) {
        int dollar = cls.indexOf('$');
        return dollar < 0 ? cls : cls.substring(0, dollar);
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
}
