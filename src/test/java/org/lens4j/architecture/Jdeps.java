package org.lens4j.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;

/**
 * What the JDK's {@code jdeps} says lens4j's compiled main classes refer to, as a map from each
 * class (or package) to the lens4j classes (or packages) it refers to. Nested classes count as
 * their top-level class.
 *
 * <pre>{@code
 * Map<String, Set<String>> packages = Jdeps.packages();   // "org.lens4j.hook" -> {"org.lens4j", ...}
 * }</pre>
 */
public final class Jdeps {
    private static final Pattern EDGE = Pattern.compile("^\\s+(org\\.lens4j[\\w.$]*)\\s+->\\s+(org\\.lens4j[\\w.$]*)");

    private Jdeps() {
    }

    /** Top-level class -> the other lens4j top-level classes it refers to. */
    public static Map<String, Set<String>> classes() {
        return run("-verbose:class", true);
    }

    /** Package -> the other lens4j packages it refers to. */
    public static Map<String, Set<String>> packages() {
        return run("-verbose:package", false);
    }

    /** The package of a class name. */
    public static String packageOf(String className) {
        return className.substring(0, className.lastIndexOf('.'));
    }

    private static Map<String, Set<String>> run(String verbosity, boolean classes) {
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow(() -> new AssertionError("the JDK has no jdeps tool"));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = jdeps.run(new PrintWriter(out), new PrintWriter(err), verbosity, "-filter:none", CompiledClasses.mainClasses().toString());
        assertEquals(0, rc, "jdeps failed: " + err);
        Map<String, Set<String>> deps = new TreeMap<>();
        for (String line : out.toString().split("\n")) {
            Matcher m = EDGE.matcher(line);
            if (m.find()) {
                String from = classes ? topLevel(m.group(1)) : m.group(1);
                String to = classes ? topLevel(m.group(2)) : m.group(2);
                if (!from.equals(to)) {
                    deps.computeIfAbsent(from, k -> new TreeSet<>()).add(to);
                }
            }
        }
        return deps;
    }

    private static String topLevel(String className) {
        int dollar = className.indexOf('$');
        return dollar < 0 ? className : className.substring(0, dollar);
    }
}
