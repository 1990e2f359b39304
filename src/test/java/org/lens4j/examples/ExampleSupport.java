package org.lens4j.examples;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.lens4j.Lens;
import org.lens4j.TestLens;
import org.lens4j.analysis.AnalysisJson;

/** What the example tests share: the test run's worker, the toy models' presence, output folders, file checks. */
final class ExampleSupport {
    private ExampleSupport() {
    }

    /** The shared worker, after checking that the toy models an example runs on are there. */
    static Lens lens(String... models) {
        Lens lens = TestLens.lens();
        List<String> bundled = lens.bundledModels();
        for (String name : models) {
            assertTrue(bundled.contains(name), "the toy model '" + name + "' is missing from python/lens4j_bridge/toy/models/ (bundled: "
                    + bundled + "). The examples run on it by default; train it with "
                    + "`cd python && python -m lens4j_bridge.toy.train " + name + "` (minutes on CPU).");
        }
        return lens;
    }

    /** The arguments of an example run whose output goes to target/examples-out/NAME (emptied first). */
    static String[] args(String example, String... more) throws IOException {
        Path out = Path.of("target", "examples-out", example);
        if (Files.isDirectory(out)) {
            try (var files = Files.walk(out)) {
                for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        String[] args = new String[more.length + 2];
        args[0] = "--out";
        args[1] = out.toString();
        System.arraycopy(more, 0, args, 2, more.length);
        return args;
    }

    static Path outDir(String example) {
        return Path.of("target", "examples-out", example);
    }

    /**
     * Every file the example says it wrote exists in its folder and is what its name says:
     * an HTML page that loads no script from the network, or JSON that parses.
     */
    static void assertFilesWritten(String example, List<String> files, int minViews, int minJson) throws IOException {
        Path dir = outDir(example);
        int views = 0;
        int json = 0;
        for (String name : files) {
            Path f = dir.resolve(name);
            assertTrue(Files.isRegularFile(f) && Files.size(f) > 0, example + " did not write " + f);
            if (name.endsWith(".html")) {
                String page = Files.readString(f, StandardCharsets.UTF_8);
                assertTrue(page.contains("<html") || page.contains("<!DOCTYPE") || page.contains("<div"), f + " is not an HTML page");
                assertFalse(page.matches("(?s).*<script[^>]+src=\"https?://.*"), f + " loads a script from the network");
                if (page.contains("src=\"plotly.min.js\"")) {
                    assertTrue(Files.isRegularFile(dir.resolve("plotly.min.js")), f + " needs plotly.min.js beside it");
                }
                views++;
            } else if (name.endsWith(".json")) {
                JsonNode node = AnalysisJson.MAPPER.readTree(f.toFile());
                assertTrue(node.isObject(), f + " is not a JSON object");
                json++;
            }
        }
        assertTrue(views >= minViews, example + " wrote " + views + " views, expected at least " + minViews + ": " + files);
        assertTrue(json >= minJson, example + " wrote " + json + " JSON files, expected at least " + minJson + ": " + files);
        assertTrue(files.contains("summary.json"), example + " wrote no summary.json: " + files);
    }

    static boolean finite(double[][] grid) {
        for (double[] row : grid) {
            for (double v : row) {
                if (!Double.isFinite(v)) {
                    return false;
                }
            }
        }
        return true;
    }
}
