package org.lens4j.engine.worker;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A venv made elsewhere and used as it is, without pip: {@code LENS4J_VENV} (system property
 * {@code lens4j.venv} first) names it, relative paths against the working directory. This is how
 * a cluster's executors get their Python without each building 5 GB: a venv that
 * {@code ./lens4j venv} made, packed once ({@code tar czf lens4j-venv.tar.gz -C <venv> .}) and
 * shipped with {@code spark-submit --archives lens4j-venv.tar.gz#lens4j-venv
 * --conf spark.executorEnv.LENS4J_VENV=lens4j-venv}; Spark unpacks it into each executor's
 * working directory.
 *
 * <p>A moved venv works when run through its own {@code bin/python}: CPython finds
 * {@code pyvenv.cfg} beside the executable it was started as and takes {@code sys.prefix} from
 * there, not from the path the venv was made at (lens4j never runs the venv's other
 * {@code bin/} scripts, whose first lines do carry the old path). What it cannot carry is the
 * base Python: {@code bin/python} links to the interpreter it was made from
 * ({@code home} in {@code pyvenv.cfg}), which must exist at the same path on every executor, as
 * it does where all hosts share one image. Opening checks all of this and says which part is
 * missing, with a quick run of the venv's python that must report the venv as its prefix.
 *
 * <pre>{@code
 * // LENS4J_VENV=lens4j-venv in the executor's environment; WorkerEngine then calls, in effect:
 * PythonEnv env = PrebuiltVenv.open(Path.of("lens4j-venv"), PythonEnv.defaultHome(), System.err::println);
 * }</pre>
 */
public final class PrebuiltVenv {
    public static final String PROPERTY = "lens4j.venv";
    public static final String ENV = "LENS4J_VENV";

    private PrebuiltVenv() {
    }

    /** The venv that {@code lens4j.venv} / {@code LENS4J_VENV} names, absolute, or null when neither is set. */
    public static Path configured() {
        String v = System.getProperty(PROPERTY);
        if (v == null || v.isBlank()) {
            v = System.getenv(ENV);
        }
        return v == null || v.isBlank() ? null : Path.of(v.strip()).toAbsolutePath().normalize();
    }

    /**
     * Checks the venv at {@code venv} and returns it as the worker's environment; the bridge is
     * unpacked under {@code home} as usual.
     *
     * @throws PythonEnvException saying what is wrong with the venv and how to make a usable one
     */
    public static PythonEnv open(Path venv, Path home, Consumer<String> progress) {
        Consumer<String> log = progress == null ? System.err::println : progress;
        Path dir = venv.toAbsolutePath().normalize();
        String named = ENV + "=" + dir + " (working directory " + Path.of("").toAbsolutePath() + ")";
        if (!Files.isDirectory(dir)) {
            throw fail(named + " does not exist or is not a directory. With spark-submit --archives lens4j-venv.tar.gz#lens4j-venv"
                    + " the venv is unpacked as lens4j-venv in each executor's working directory.");
        }
        if (!Files.isRegularFile(dir.resolve(PythonEnv.MARKER))) {
            throw fail(named + " is not a complete lens4j venv: it has no " + PythonEnv.MARKER + " file, which lens4j writes when a"
                    + " build has finished. Pack a venv that ./lens4j venv made (tar czf lens4j-venv.tar.gz -C <that venv> .).");
        }
        Path python = PythonEnv.pythonIn(dir);
        if (!Files.isExecutable(python)) {
            String link = "";
            try {
                if (Files.isSymbolicLink(python)) {
                    link = ": it links to " + Files.readSymbolicLink(python) + ", which does not exist on this machine."
                            + " A venv needs the Python it was made from at the same path on every machine (pyvenv.cfg: "
                            + pyvenvHome(dir) + ")";
                }
            } catch (IOException ignored) {
                // the plain message below still says what is missing
            }
            throw fail(named + " has no runnable " + dir.relativize(python) + link + ".");
        }
        Properties marker = new Properties();
        try (var in = Files.newBufferedReader(dir.resolve(PythonEnv.MARKER))) {
            marker.load(in);
        } catch (IOException e) {
            throw fail(named + ": cannot read " + PythonEnv.MARKER + ": " + e);
        }
        String[] v = marker.getProperty("version", "0.0.0").split("\\.");
        PythonEnv.BasePython base = new PythonEnv.BasePython(Path.of(marker.getProperty("executable", python.toString())),
                marker.getProperty("implementation", "cpython"), part(v, 0), part(v, 1), part(v, 2));
        checkPrefix(dir, python, named);
        String spec = specDifference(dir);
        log.accept("lens4j: using the pre-built Python environment " + dir + " as it is (" + ENV + "), made from " + base.describe()
                + (spec.isEmpty() ? "" : "; note: " + spec));
        return PythonEnv.of(dir, python, BundledPython.locate(home), base);
    }

    private static int part(String[] v, int i) {
        try {
            return i < v.length ? Integer.parseInt(v[i]) : 0;
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Runs the venv's python once: it must start, and see this directory as its prefix (a moved venv's does). */
    private static void checkPrefix(Path dir, Path python, String named) {
        List<String> out = new ArrayList<>();
        int code;
        try {
            ProcessBuilder pb = new ProcessBuilder(python.toString(), "-I", "-c", "import sys; print(sys.prefix)").redirectErrorStream(true);
            pb.environment().remove("PYTHONHOME");
            Process p = pb.start();
            p.getOutputStream().close();
            try (var r = p.inputReader(StandardCharsets.UTF_8)) {
                r.lines().limit(20).forEach(out::add);
            }
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw fail(named + ": " + python + " did not answer within 60 s");
            }
            code = p.exitValue();
        } catch (IOException e) {
            throw fail(named + ": cannot run " + python + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw fail(named + ": interrupted while checking " + python);
        }
        String said = String.join("\n", out).strip();
        if (code != 0) {
            throw fail(named + ": " + python + " exited " + code + ": " + said);
        }
        try {
            if (!Files.isSameFile(Path.of(said), dir)) {
                throw fail(named + ": its python reports sys.prefix " + said + ", not the venv, so it would not see the venv's"
                        + " packages; was the venv made with --copies or edited? Make it with ./lens4j venv.");
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof PythonEnvException pe) {
                throw pe;
            }
            throw fail(named + ": its python reports sys.prefix '" + said + "', which is not the venv: " + e);
        }
    }

    private static String pyvenvHome(Path dir) {
        try {
            for (String line : Files.readAllLines(dir.resolve("pyvenv.cfg"), StandardCharsets.UTF_8)) {
                if (line.strip().startsWith("home")) {
                    return line.strip();
                }
            }
        } catch (IOException ignored) {
            // reported as unknown
        }
        return "home unknown";
    }

    /** Empty when the venv was made from the spec bundled in this jar, else what differs (a warning: the user chose this venv). */
    private static String specDifference(Path dir) {
        PythonEnv.Spec bundled;
        try {
            bundled = PythonEnv.Spec.bundled();
        } catch (RuntimeException e) {
            return "";
        }
        List<String> differ = new ArrayList<>();
        for (Map.Entry<String, byte[]> f : bundled.files().entrySet()) {
            Path copy = dir.resolve("lens4j-spec").resolve(f.getKey());
            try {
                if (!Files.isRegularFile(copy, LinkOption.NOFOLLOW_LINKS) || !Arrays.equals(Files.readAllBytes(copy), f.getValue())) {
                    differ.add(f.getKey());
                }
            } catch (IOException e) {
                differ.add(f.getKey());
            }
        }
        return differ.isEmpty() ? "" : "its " + String.join(" and ", differ) + " differ from this lens4j's venv spec;"
                + " it may lack or pin other versions of what this lens4j needs";
    }

    private static PythonEnvException fail(String message) {
        return new PythonEnvException("use pre-built venv", message);
    }
}
