package org.lens4j.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The package layers of docs/ARCHITECTURE.md, checked over the compiled classes with the JDK's
 * {@code jdeps}: lens4j's sub-packages refer to each other without a cycle, and the root package
 * reaches down only into the three packages it is built on.
 *
 * <p>The root package {@code org.lens4j} is the hub, as in ArchUnit's usual
 * {@code slices().matching("org.lens4j.(*)..").should().beFreeOfCycles()}: it holds both the
 * bottom of every layer (Tensor, the exceptions, ErrorKind, Slice, Input) and the two entry points
 * (Lens, Model). So it refers to {@code internal} (the one door), {@code engine} (Lens starts it)
 * and {@code hook} (Model's verbs take hook values), and they refer back to its values. Every
 * other pair of packages goes one way only.
 *
 * <pre>{@code
 * mvn -B -q -o test -Dtest=PackageLayersTest -Dsurefire.failIfNoSpecifiedTests=false
 * }</pre>
 */
class PackageLayersTest {
    private static final String ROOT = "org.lens4j";
    private static final Set<String> ROOT_BUILDS_ON = Set.of("org.lens4j.internal", "org.lens4j.engine", "org.lens4j.hook");

    @Test
    void subPackagesReferToEachOtherWithoutACycle() {
        Map<String, Set<String>> packages = Jdeps.packages();
        assertTrue(packages.containsKey("org.lens4j.analysis") && packages.containsKey("org.lens4j.engine.worker"),
                "jdeps saw too few packages: " + packages.keySet());
        Map<String, Set<String>> withoutRoot = new HashMap<>();
        packages.forEach((from, tos) -> {
            if (!from.equals(ROOT)) {
                Set<String> kept = new TreeSet<>(tos);
                kept.remove(ROOT);
                withoutRoot.put(from, kept);
            }
        });
        assertEquals(List.of(), cycles(withoutRoot), "packages that refer to each other (directly or round a loop)");
    }

    @Test
    void theRootPackageReachesDownOnlyIntoInternalEngineAndHook() {
        Set<String> below = Jdeps.packages().getOrDefault(ROOT, Set.of());
        assertTrue(below.contains("org.lens4j.internal"), "the root package opens the internal door: " + below);
        Set<String> extra = new TreeSet<>(below);
        extra.removeAll(ROOT_BUILDS_ON);
        assertEquals(Set.of(), extra, "org.lens4j may refer only to " + ROOT_BUILDS_ON + "; the layers above it refer to it");
    }

    @Test
    void theCycleFinderFindsACycle() {
        // The check above can fail: the same finder on a graph with a loop reports it.
        Map<String, Set<String>> graph = Map.of("a", Set.of("b"), "b", Set.of("c"), "c", Set.of("a"), "d", Set.of("a"));
        assertEquals(List.of(List.of("a", "b", "c")), cycles(graph));
    }

    /** The strongly connected groups of more than one node (Tarjan), each sorted; sorted by first node. */
    static List<List<String>> cycles(Map<String, Set<String>> graph) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new HashSet<>();
        List<List<String>> found = new ArrayList<>();
        Set<String> nodes = new TreeSet<>(graph.keySet());
        graph.values().forEach(nodes::addAll);
        for (String n : nodes) {
            if (!index.containsKey(n)) {
                connect(n, graph, index, low, stack, onStack, found);
            }
        }
        found.sort((x, y) -> x.get(0).compareTo(y.get(0)));
        return found;
    }

    private static void connect(String v, Map<String, Set<String>> graph, Map<String, Integer> index, Map<String, Integer> low,
            Deque<String> stack, Set<String> onStack, List<List<String>> found) {
        index.put(v, index.size());
        low.put(v, index.get(v));
        stack.push(v);
        onStack.add(v);
        for (String w : graph.getOrDefault(v, Set.of())) {
            if (!index.containsKey(w)) {
                connect(w, graph, index, low, stack, onStack, found);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            List<String> group = new ArrayList<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                group.add(w);
            } while (!w.equals(v));
            if (group.size() > 1) {
                group.sort(String::compareTo);
                found.add(group);
            }
        }
    }
}
