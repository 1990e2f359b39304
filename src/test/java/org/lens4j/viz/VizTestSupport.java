package org.lens4j.viz;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.TestLens;
import org.lens4j.engine.Json;

/**
 * The shared test worker and tiny model of {@link TestLens}, and the Chromium harness
 * {@code python/tests/chromium_check.py}.
 */
final class VizTestSupport {
    static final Path HARNESS = Path.of("python", "tests", "chromium_check.py").toAbsolutePath();
    static final Path SCREENSHOTS = Path.of("target", "screenshots").toAbsolutePath();

    // Closes circuitsvis' inline <script> unless its props are escaped.
    static final String HOSTILE = "</script><img src=x onerror=\"document.title='pwned'\">";
    // No whitespace: survives circuitsvis' ' ' -> '&nbsp;' and would run through its innerHTML sinks.
    static final String HOSTILE_INNER = "<img/src='x'/onerror=document.title='pwned'>";
    static final List<String> TOKENS = List.of("<|endoftext|>", "When", HOSTILE, " Mary", HOSTILE_INNER, "<b>bold</b> &amp; co");

    private VizTestSupport() {
    }

    static Lens lens() {
        return TestLens.lens();
    }

    static Model tiny() {
        return TestLens.tiny();
    }

    static Path venvPython() {
        return TestLens.venvPython();
    }

    /**
     * Fail (or, with LENS4J_SKIP_BROWSER=1, skip) when there is no Chromium: a skip by default
     * would hide a broken setup.
     */
    static void requireChromium() {
        if (chromium() != null) {
            return;
        }
        String reason = "no Chromium found for the view tests: install it (apt-get install -y chromium) or set"
                + " LENS4J_CHROMIUM to its binary; LENS4J_SKIP_BROWSER=1 skips these tests";
        if ("1".equals(System.getenv("LENS4J_SKIP_BROWSER"))) {
            System.out.println("SKIPPED (LENS4J_SKIP_BROWSER=1): " + reason);
            Assumptions.abort("LENS4J_SKIP_BROWSER=1: " + reason);
        }
        fail(reason);
    }

    /** The binary the harness will use: $LENS4J_CHROMIUM, else the Debian package's, else one on the PATH. */
    static Path chromium() {
        String explicit = System.getenv("LENS4J_CHROMIUM");
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit);
            return Files.isExecutable(p) ? p : null;
        }
        List<Path> candidates = new ArrayList<>(List.of(Path.of("/usr/bin/chromium"), Path.of("/usr/lib/chromium/chromium")));
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty()) {
                for (String name : List.of("chromium", "chromium-browser", "google-chrome")) {
                    candidates.add(Path.of(dir, name));
                }
            }
        }
        return candidates.stream().filter(Files::isExecutable).findFirst().orElse(null);
    }

    /** Open {@code page} in headless Chromium with no network; the harness' JSON report (exit 1 still reports). */
    static JsonNode check(Path page, Path screenshot) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(venvPython().toString(), HARNESS.toString(), page.toString()));
        if (screenshot != null) {
            command.addAll(List.of("--screenshot", screenshot.toString()));
        }
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("chromium_check.py did not finish in 120 s for " + page);
        }
        if (p.exitValue() == 2) {
            fail("Chromium could not open the page (install it: apt-get install -y chromium): " + out);
        }
        if (p.exitValue() != 0 && p.exitValue() != 1) {
            fail("chromium_check.py failed (exit " + p.exitValue() + "): " + out);
        }
        return Json.MAPPER.readTree(out);
    }
}
