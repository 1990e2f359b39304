package org.lens4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A test's program run in a JVM of its own (a chosen class path or environment), and what it printed.
 *
 * <pre>{@code
 * ChildJvm run = ChildJvm.run(ChildJvm.command(classPath, MyChild.class), 240, env -> env.put("X", "1"));
 * assertEquals(0, run.exitCode(), run.output());
 * }</pre>
 *
 * @param exitCode the child's exit status
 * @param output its stdout and stderr together
 */
public record ChildJvm(int exitCode, String output) {

    /** The jars or class folders that hold these classes, as a class path: what a project with just them would have. */
    public static String classPathOf(Class<?>... classes) {
        List<String> entries = new java.util.ArrayList<>();
        for (Class<?> c : classes) {
            try {
                entries.add(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
            } catch (java.net.URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
        return String.join(java.io.File.pathSeparator, entries);
    }

    /** {@code java -cp classPath main args...} with this JVM's own java. */
    public static ProcessBuilder command(String classPath, Class<?> main, String... args) {
        List<String> command = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", classPath, main.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true);
    }

    /** Runs it to the end (failing the test past {@code seconds}), echoes and returns its output. */
    public static ChildJvm run(ProcessBuilder child, int seconds) throws IOException, InterruptedException {
        Process p = child.redirectErrorStream(true).start();
        String out;
        try {
            assertTrue(p.waitFor(seconds, TimeUnit.SECONDS), "the child JVM did not finish in " + seconds + " s");
        } finally {
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.destroyForcibly();
        }
        System.out.println(out);
        return new ChildJvm(p.exitValue(), out);
    }
}
