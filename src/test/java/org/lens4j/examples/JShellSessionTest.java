package org.lens4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * docs/examples.md's JShell session: examples/jshell/session.jsh fed on standard input to the
 * JDK's jshell (the test JVM's own), with the tests' class path and examples/jshell/startup.jsh,
 * as {@code ./lens4j jshell} runs it. The lines docs/examples.md marks as checked must appear.
 */
class JShellSessionTest {
    /** The checked lines of docs/examples.md's transcript, exactly (the logit difference is checked as a number). */
    static final List<String> EXPECTED = List.of(
            "model ==> Model[toy-ioi: 4 layers, 4 heads, d_model 128, d_vocab 1731, cpu]",
            "$4 ==> [<|endoftext|>, When,  John,  and,  Mary,  went,  to,  the,  shops, ,,  John,  gave,  the,  bag,  to]",
            "$6 ==> Tensor[float32 [4, 15] cpu]",
            "$7 ==> ActivationCache[8 entries]",
            "  blocks.3.attn.hook_pattern [1, 4, 15, 15] float32");

    @Test
    void sessionPrintsWhatTheDocsShow() throws Exception {
        ExampleSupport.lens("toy-ioi"); // the toy model is there (and the venv exists)
        Path jshell = Path.of(System.getProperty("java.home"), "bin", "jshell");
        assertTrue(Files.isExecutable(jshell), "no jshell in the test JVM's JDK at " + jshell + ": run the tests on a JDK, not a JRE");
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        // jshell refuses class path entries that are neither folders nor jars (Maven lists some .pom files)
        String cp = Arrays.stream(classPath.split(File.pathSeparator))
                .filter(e -> e.endsWith(".jar") || Files.isDirectory(Path.of(e)))
                .collect(Collectors.joining(File.pathSeparator));
        ProcessBuilder pb = new ProcessBuilder(jshell.toString(), "--class-path", cp, "--startup", "DEFAULT", "--startup",
                "examples/jshell/startup.jsh")
                .redirectInput(Path.of("examples/jshell/session.jsh").toFile())
                .redirectErrorStream(true);
        pb.environment().putIfAbsent("LENS4J_DEVICE", "cpu");
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "jshell did not finish:\n" + output);
        assertEquals(0, p.exitValue(), "jshell failed:\n" + output);
        assertTrue(!output.contains("|  Error:") && !output.contains("|  Exception"), "the session failed:\n" + output);

        // Piped into jshell, an input line is sometimes echoed before its result on the same line: compare line ends.
        List<String> lines = output.lines().toList();
        for (String expected : EXPECTED) {
            assertTrue(lines.stream().anyMatch(l -> l.endsWith(expected)), "missing line: " + expected + "\n--- jshell printed:\n" + output);
        }
        Matcher diff = Pattern.compile("(?m)\\$8 ==> (-?[0-9.]+(?:E-?[0-9]+)?)$").matcher(output);
        assertTrue(diff.find(), "no logit difference ($8) in:\n" + output);
        double logitDiff = Double.parseDouble(diff.group(1));
        assertTrue(logitDiff >= 2.0, "the session's logit difference is " + logitDiff + ", expected >= 2.0");
    }
}
