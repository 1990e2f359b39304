package org.lens4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.lens4j.architecture.Jdeps;

/**
 * The dependency between results and tables runs one way: {@code org.lens4j.analysis} refers to
 * {@code org.lens4j.data} (its results implement {@link ResultTable.Source}), never the reverse,
 * so a new analysis needs no change here. Checked over the compiled main classes with the JDK's
 * {@code jdeps} (through {@link Jdeps}).
 *
 * <pre>{@code
 * mvn -B -q -o test -Dtest=DataBoundaryTest -Dsurefire.failIfNoSpecifiedTests=false
 * }</pre>
 */
class DataBoundaryTest {
    private static final String DATA = "org.lens4j.data";
    private static final String ANALYSIS = "org.lens4j.analysis";

    @Test
    void dataNeverRefersToTheAnalyses() {
        Map<String, Set<String>> classes = Jdeps.classes();
        // The check must bite: jdeps saw the table, and the analyses' side of the edge is there.
        assertTrue(classes.containsKey(ResultTable.class.getName()), "jdeps saw no ResultTable among " + classes.keySet());
        assertTrue(classes.entrySet().stream().anyMatch(e -> Jdeps.packageOf(e.getKey()).equals(ANALYSIS)
                        && e.getValue().contains(ResultTable.class.getName())),
                "jdeps should show analysis results -> ResultTable (they implement ResultTable.Source)");
        List<String> toAnalysis = classes.entrySet().stream()
                .filter(e -> Jdeps.packageOf(e.getKey()).equals(DATA))
                .flatMap(e -> e.getValue().stream().filter(to -> Jdeps.packageOf(to).equals(ANALYSIS)).map(to -> e.getKey() + " -> " + to))
                .toList();
        assertEquals(List.of(), toAnalysis, "org.lens4j.data must not refer to org.lens4j.analysis: results implement ResultTable.Source instead");
    }
}
