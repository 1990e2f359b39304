package org.lens4j.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * lens4j's public API, recorded in {@code src/main/api/lens4j.api} and checked against the
 * compiled classes, as OkHttp records {@code okhttp.api}: a change to the API shows up as a diff
 * of that file in review. After a deliberate API change, write the file anew with
 * {@code LENS4J_API_WRITE=1 mvn -B -q -o test -Dtest=ApiSurfaceTest -Dsurefire.failIfNoSpecifiedTests=false}
 * and commit it with the change.
 *
 * <p>Why a recorded file and not a {@code module-info.java}: {@code org.lens4j.spark} compiles
 * against Spark, whose jars have no module name a descriptor could require (the JDK derives
 * {@code spark.core.2.13} from {@code spark-core_2.13-4.2.0.jar} and refuses it: "'2' is not a
 * Java identifier"), and Spark, GraalPy and JEP all run lens4j from the class path.
 *
 * <p>API packages: {@link #API_PACKAGES}. Not API, may change in any release:
 * {@code org.lens4j.internal} (the plumbing behind one door) and the engine packages
 * {@code org.lens4j.engine} (the seam) with {@code .worker}, {@code .embedded}, {@code .graalpy}.
 * No public signature of the API names a type from those packages, or Jackson's {@code JsonNode}.
 *
 * <pre>{@code
 * mvn -B -q -o test -Dtest=ApiSurfaceTest -Dsurefire.failIfNoSpecifiedTests=false
 * }</pre>
 */
class ApiSurfaceTest {
    static final List<String> API_PACKAGES = List.of("org.lens4j", "org.lens4j.hook", "org.lens4j.analysis", "org.lens4j.viz",
            "org.lens4j.data", "org.lens4j.batch", "org.lens4j.spark");
    private static final List<String> PLUMBING = List.of("org.lens4j.internal.", "org.lens4j.engine.", "com.fasterxml.jackson.databind.JsonNode");
    private static final Path RECORD = Path.of("src/main/api/lens4j.api");

    @Test
    void theApiIsTheRecordedOne() throws IOException {
        List<String> now = surface();
        assertTrue(now.size() > 300, "the API surface looks too small to be real: " + now.size() + " lines");
        if ("1".equals(System.getenv("LENS4J_API_WRITE"))) {
            Files.createDirectories(RECORD.getParent());
            Files.writeString(RECORD, header() + String.join("\n", now) + "\n");
        }
        List<String> recorded = Files.exists(RECORD)
                ? Files.readAllLines(RECORD).stream().filter(l -> !l.startsWith("#") && !l.isBlank()).toList()
                : List.of();
        List<String> added = new ArrayList<>(now);
        added.removeAll(recorded);
        List<String> removed = new ArrayList<>(recorded);
        removed.removeAll(now);
        assertEquals("", diff(added, removed), "the public API differs from " + RECORD + "; if the change is meant, write the file"
                + " anew (LENS4J_API_WRITE=1, see this class's Javadoc) and commit it with the change");
    }

    @Test
    void noPublicSignatureNamesPlumbing() {
        List<String> leaks = surface().stream().filter(ApiSurfaceTest::namesPlumbing).toList();
        assertEquals(List.of(), leaks, "public API signatures that name " + PLUMBING);
    }

    @Test
    void thePlumbingCheckBites() {
        assertTrue(namesPlumbing("public org.lens4j.engine.Reply org.lens4j.Tensor.toReply()"));
        assertTrue(namesPlumbing("public static org.lens4j.internal.Ops org.lens4j.X.ops()"));
        assertTrue(namesPlumbing("public org.lens4j.Tensor org.lens4j.X.of(com.fasterxml.jackson.databind.JsonNode)"));
        assertTrue(!namesPlumbing("public org.lens4j.Tensor org.lens4j.Model.logits(java.lang.String)"));
    }

    private static boolean namesPlumbing(String line) {
        return PLUMBING.stream().anyMatch(line::contains);
    }

    private static String header() {
        return "# lens4j's public API, one line per public type and member (written by ApiSurfaceTest; see its Javadoc).\n"
                + "# API packages: " + String.join(", ", API_PACKAGES) + ".\n"
                + "# Not API: org.lens4j.internal, org.lens4j.engine and its sub-packages.\n";
    }

    private static String diff(List<String> added, List<String> removed) {
        StringBuilder b = new StringBuilder();
        removed.forEach(l -> b.append("- ").append(l).append('\n'));
        added.forEach(l -> b.append("+ ").append(l).append('\n'));
        return b.toString();
    }

    /** One line per public (or protected) type and member of the API packages, sorted. */
    static List<String> surface() {
        Set<String> lines = new TreeSet<>();
        for (Class<?> c : CompiledClasses.publicTypes(API_PACKAGES)) {
            lines.add(describe(c));
            Stream.<Member>concat(Stream.concat(Arrays.stream(c.getDeclaredConstructors()), Arrays.stream(c.getDeclaredMethods())),
                    Arrays.stream(c.getDeclaredFields()))
                    .filter(m -> !m.isSynthetic() && !(m instanceof Method method && method.isBridge()))
                    .filter(m -> Modifier.isPublic(m.getModifiers()) || (Modifier.isProtected(m.getModifiers())
                            && !Modifier.isFinal(c.getModifiers())))
                    .map(ApiSurfaceTest::describe)
                    .forEach(lines::add);
        }
        return new ArrayList<>(lines);
    }

    private static String describe(Member m) {
        return switch (m) {
            case Constructor<?> k -> k.toGenericString();
            case Method method -> method.toGenericString();
            case Field f -> f.toGenericString();
            default -> throw new AssertionError(m);
        };
    }

    private static String describe(Class<?> c) {
        StringBuilder b = new StringBuilder(Modifier.toString(c.getModifiers() & ~Modifier.INTERFACE & ~Modifier.ABSTRACT & ~Modifier.STATIC));
        b.append(b.isEmpty() ? "" : " ").append(c.isRecord() ? "record" : c.isEnum() ? "enum" : c.isAnnotation() ? "@interface"
                : c.isInterface() ? "interface" : Modifier.isAbstract(c.getModifiers()) ? "abstract class" : "class");
        b.append(' ').append(c.getTypeName());
        if (c.getGenericSuperclass() != null && c.getSuperclass() != Object.class && !c.isEnum() && !c.isRecord()) {
            b.append(" extends ").append(c.getGenericSuperclass().getTypeName());
        }
        if (c.getGenericInterfaces().length > 0) {
            b.append(c.isInterface() ? " extends " : " implements ")
                    .append(Arrays.stream(c.getGenericInterfaces()).map(t -> t.getTypeName()).collect(Collectors.joining(", ")));
        }
        if (c.isSealed()) {
            b.append(" permits ").append(Arrays.stream(c.getPermittedSubclasses()).map(Class::getTypeName).collect(Collectors.joining(", ")));
        }
        return b.toString();
    }
}
