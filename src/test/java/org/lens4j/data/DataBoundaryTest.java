package org.lens4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * The dependency between results and tables runs one way: {@code org.lens4j.analysis} refers to
 * {@code org.lens4j.data} (its results implement {@link ResultTable.Source}), never the reverse,
 * so a new analysis needs no change here. Checked over the compiled main classes with the JDK's
 * {@code jdeps -verbose:class}.
 *
 * <pre>{@code
 * mvn -B -q -o test -Dtest=DataBoundaryTest -Dsurefire.failIfNoSpecifiedTests=false
 * }</pre>
 */
class DataBoundaryTest {
    private static final Pattern EDGE = Pattern.compile("^\\s+(org\\.lens4j\\.\\S+)\\s+->\\s+(org\\.lens4j\\.\\S+)");

    @Test
    void dataNeverRefersToTheAnalyses() throws Exception {
        List<String[]> edges = classEdges();
        Set<String> dataClasses = new TreeSet<>();
        List<String> toAnalysis = new ArrayList<>();
        boolean analysisUsesData = false;
        for (String[] e : edges) {
            if (inPackage(e[0], "org.lens4j.data")) {
                dataClasses.add(e[0]);
                if (inPackage(e[1], "org.lens4j.analysis")) {
                    toAnalysis.add(e[0] + " -> " + e[1]);
                }
            }
            analysisUsesData |= inPackage(e[0], "org.lens4j.analysis") && inPackage(e[1], "org.lens4j.data");
        }
        // The check must bite: jdeps saw the table, and the analyses' side of the edge is there.
        assertTrue(dataClasses.contains(ResultTable.class.getName()), "jdeps saw no ResultTable among " + dataClasses);
        assertTrue(analysisUsesData, "jdeps should show org.lens4j.analysis -> org.lens4j.data (results implement ResultTable.Source)");
        assertEquals(List.of(), toAnalysis, "org.lens4j.data must not refer to org.lens4j.analysis: results implement ResultTable.Source instead");
    }

    private static boolean inPackage(String cls, String pkg) {
        return cls.startsWith(pkg + ".") && cls.indexOf('.', pkg.length() + 1) < 0;
    }

    /** {from, to} for every reference between lens4j classes in the compiled main classes. */
    private static List<String[]> classEdges() throws Exception {
        Path classes = Path.of(ResultTable.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow(() -> new AssertionError("the JDK has no jdeps tool"));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = jdeps.run(new PrintWriter(out), new PrintWriter(err), "-verbose:class", "-filter:none", classes.toString());
        assertEquals(0, rc, "jdeps failed: " + err);
        List<String[]> edges = new ArrayList<>();
        for (String line : out.toString().split("\n")) {
            Matcher m = EDGE.matcher(line);
            if (m.find()) {
                edges.add(new String[] {m.group(1), m.group(2)});
            }
        }
        return edges;
    }
}
