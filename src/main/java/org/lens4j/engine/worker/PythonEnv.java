package org.lens4j.engine.worker;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The CPython virtual environment that the worker runs in, made on first use.
 *
 * <p>The venv lives in {@code $LENS4J_HOME/venvs/<hash>}, where the hash covers the venv spec
 * (requirements.txt and constraints.txt, bundled as resources under {@code lens4j/venv-spec/}),
 * the base Python's version and the platform: a changed spec or another Python gives another
 * venv, and an unchanged one is reused. A build runs {@code python -m venv}, {@code pip install
 * -r requirements.txt -c constraints.txt} and an import check; a marker file written last says
 * the venv is complete. It is built in place rather than in a temp folder renamed at the end,
 * because a venv's scripts and activate files carry its absolute path; a build that died half
 * way has no marker and is deleted by the next one, and a failed build deletes its venv and
 * keeps its log ({@code venvs/<hash>.log}). A file lock on {@code venvs/.lock} keeps two JVMs from building at once.
 * {@code LENS4J_VENV} (property {@code lens4j.venv}) names a venv made elsewhere instead, used as
 * it is with no build ({@link PrebuiltVenv}: a Spark {@code --archives} copy, an image's venv).
 * With no {@code LENS4J_PYTHON}, the venv used last for this spec is reused without searching
 * for a base Python again ({@code venvs/default-<spec hash>} names it).
 *
 * <pre>{@code
 * PythonEnv env = PythonEnv.ensure(PythonEnv.defaultHome(), System.getenv("LENS4J_PYTHON"), System.err::println);
 * new ProcessBuilder(env.python().toString(), "-m", "lens4j_bridge", ...)
 *     .environment().put("PYTHONPATH", env.bridgePath().toString());
 * }</pre>
 *
 * <p>{@code java -cp ... org.lens4j.engine.worker.PythonEnv [--print-python | --print-bridge]}
 * makes the venv and prints the venv's python (or the bridge directory) on the last line of
 * stdout; progress goes to stderr. The launcher uses it so that pytest runs in the same venv.
 */
public final class PythonEnv {
    /** Classpath folder of the bundled venv spec. */
    public static final String SPEC_RESOURCE = "lens4j/venv-spec/";
    /** The spec files that decide what the venv holds; other files in venv-spec/ do not count. */
    public static final List<String> SPEC_FILES = List.of("requirements.txt", "constraints.txt", "embedded.txt");
    /** JEP for the embedded engine: installed after the rest, best-effort (a failure leaves the worker working). */
    public static final String EMBEDDED_SPEC = SPEC_FILES.get(2);
    /** Written into a venv where the embedded engine's pip step failed: why, for the engine's start message. */
    public static final String EMBEDDED_FAILED = "lens4j-embedded-failed.txt";
    /** Oldest Python that the pinned packages support. */
    public static final int MIN_MINOR = 10;
    /** Base Pythons looked for on PATH when LENS4J_PYTHON is not set, in this order. */
    public static final List<String> CANDIDATES = List.of("python3.13", "python3.12", "python3.11", "python3.10", "python3");

    /** What the first build downloads, said before it starts (measured: docs in README "The two commands"). */
    static final String DOWNLOAD_SIZE = "pip downloads about 2.9 GB (PyTorch 0.5 GB and its CUDA libraries 2.2 GB, "
            + "on Linux even without a GPU; a CPU-only torch wheel through PIP_FIND_LINKS skips the CUDA part) "
            + "and the venv takes about 5.4 GB; finished downloads are kept in pip's cache, so a retry after an "
            + "interruption fetches only what was missing";

    /**
     * pip's download cache, under LENS4J_HOME so that a retried build reuses what the cut-off one
     * fetched, or null where the user chose pip's cache themselves (PIP_CACHE_DIR, PIP_NO_CACHE_DIR).
     */
    static Path pipCacheDir(Path home, Map<String, String> env) {
        if (env.containsKey("PIP_CACHE_DIR") || env.containsKey("PIP_NO_CACHE_DIR")) {
            return null;
        }
        return home.resolve("pip-cache");
    }

    /** Written last into a venv: its presence means the build finished. */
    static final String MARKER = "lens4j-venv-complete";
    static final String IMPORT_CHECK = "import importlib.metadata as m, torch, transformer_lens, circuitsvis, plotly; "
            + "print('lens4j-verified torch', torch.__version__, '(CUDA)' if torch.cuda.is_available() else '(CPU)',"
            + " '- transformer-lens', m.version('transformer-lens'))";
    private static final String PROBE = "import sys; print('lens4j-probe', '%d.%d.%d' % sys.version_info[:3], "
            + "sys.implementation.name, sys.executable)";
    private static final int TAIL_LINES = 40;
    /** FileChannel locks are per JVM; this keeps two threads of one JVM from colliding on it. */
    private static final ReentrantLock IN_PROCESS = new ReentrantLock();

    private final Path venv;
    private final Path python;
    private final Path bridgePath;
    private final BasePython base;

    private PythonEnv(Path venv, Path python, Path bridgePath, BasePython base) {
        this.venv = venv;
        this.python = python;
        this.bridgePath = bridgePath;
        this.base = base;
    }

    /** The venv's python executable. */
    public Path python() {
        return python;
    }

    /** A directory holding the {@code lens4j_bridge} package: put it on PYTHONPATH. */
    public Path bridgePath() {
        return bridgePath;
    }

    /** The venv directory. */
    public Path venv() {
        return venv;
    }

    /** The Python the venv was made from. */
    public BasePython base() {
        return base;
    }

    @Override
    public String toString() {
        return "PythonEnv[" + venv + ", " + base.describe() + "]";
    }

    /** {@code LENS4J_HOME} (system property {@code lens4j.home} first), else {@code ~/.cache/lens4j}. */
    public static Path defaultHome() {
        String home = System.getProperty("lens4j.home");
        if (home == null || home.isBlank()) {
            home = System.getenv("LENS4J_HOME");
        }
        if (home != null && !home.isBlank()) {
            return Path.of(home).toAbsolutePath();
        }
        return Path.of(System.getProperty("user.home"), ".cache", "lens4j");
    }

    /**
     * Makes the venv on first use, reuses it afterwards, and extracts the bridge sources.
     *
     * @param lens4jHome     the cache home ({@link #defaultHome()})
     * @param pythonOverride the base Python to use ({@code LENS4J_PYTHON}: a path or a command on
     *                       PATH), or null to look for one
     * @param progress       receives progress lines; null prints them to stderr
     * @throws PythonEnvException when no Python >= 3.10 is found or a build step fails
     */
    public static PythonEnv ensure(Path lens4jHome, String pythonOverride, Consumer<String> progress) {
        Path given = PrebuiltVenv.configured();
        if (given != null) {
            // A venv made elsewhere (a Spark --archives copy, a shared disk): used as it is, never built.
            return PrebuiltVenv.open(given, lens4jHome == null ? defaultHome() : lens4jHome, progress);
        }
        return ensure(Setup.of(lens4jHome, pythonOverride, progress));
    }

    /** A complete venv at {@code venv} with its python, as {@link PrebuiltVenv} checked it. */
    static PythonEnv of(Path venv, Path python, Path bridgePath, BasePython base) {
        return new PythonEnv(venv, python, bridgePath, base);
    }

    /** As {@link #ensure(Path, String, Consumer)}, with every input given (tests use this). */
    public static PythonEnv ensure(Setup setup) {
        Path venvs = setup.home().resolve("venvs");
        if (setup.pythonOverride() == null) {
            PythonEnv last = lastDefault(venvs, setup.spec());
            if (last != null) {
                return new PythonEnv(last.venv, last.python, BundledPython.locate(setup.home()), last.base);
            }
        }
        BasePython base = findBasePython(setup.pythonOverride(), setup.searchPath());
        String hash = setup.spec().hash(base.tag());
        Path venv = venvs.resolve(hash);
        if (!isComplete(venv)) {
            try {
                Files.createDirectories(venvs);
            } catch (IOException e) {
                throw new PythonEnvException("prepare", null, null, "cannot create " + venvs + ": " + e, e);
            }
            withBuildLock(venvs, setup.progress(), () -> {
                // Another JVM may have finished it while this one waited for the lock.
                if (!isComplete(venv)) {
                    new Builder(setup, base, venv, venvs.resolve(hash + ".log")).build();
                }
            });
        }
        if (setup.pythonOverride() == null) {
            rememberDefault(venvs, setup.spec(), hash);
        }
        return new PythonEnv(venv, pythonIn(venv), BundledPython.locate(setup.home()), base);
    }

    /*
     * With no LENS4J_PYTHON, the venv found last time for this spec is used again without
     * looking for a base Python: running the candidates costs up to a second where they are
     * pyenv shims, and a Python installed since should not silently cost a new 5 GB venv (set
     * LENS4J_PYTHON to move to it). The pointer file names the venv directory.
     */
    private static PythonEnv lastDefault(Path venvs, Spec spec) {
        Path pointer = venvs.resolve("default-" + spec.hash("any"));
        try {
            String name = Files.isRegularFile(pointer) ? Files.readString(pointer).strip() : "";
            Path venv = venvs.resolve(name);
            if (!name.matches("[0-9a-f]{16}") || !isComplete(venv)) {
                return null;
            }
            java.util.Properties marker = new java.util.Properties();
            try (var in = Files.newBufferedReader(venv.resolve(MARKER))) {
                marker.load(in);
            }
            String[] v = marker.getProperty("version", "").split("\\.");
            if (v.length != 3 || marker.getProperty("executable") == null) {
                return null;
            }
            BasePython base = new BasePython(Path.of(marker.getProperty("executable")),
                    marker.getProperty("implementation", "cpython"),
                    Integer.parseInt(v[0]), Integer.parseInt(v[1]), Integer.parseInt(v[2]));
            return new PythonEnv(venv, pythonIn(venv), null, base);
        } catch (IOException | RuntimeException e) {
            return null; // a broken pointer only costs the search
        }
    }

    private static void rememberDefault(Path venvs, Spec spec, String hash) {
        Path pointer = venvs.resolve("default-" + spec.hash("any"));
        try {
            Path tmp = venvs.resolve(pointer.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
            Files.writeString(tmp, hash + "\n");
            Files.move(tmp, pointer, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            // only a shortcut: the next start searches again
        }
    }

    /** The inputs of {@link #ensure(Setup)}; {@link #of} fills in the bundled spec and the PATH. */
    public record Setup(Path home, String pythonOverride, Consumer<String> progress, Spec spec, List<Path> searchPath) {
        public Setup {
            Objects.requireNonNull(home, "home");
            Objects.requireNonNull(spec, "spec");
            home = home.toAbsolutePath();
            pythonOverride = pythonOverride == null || pythonOverride.isBlank() ? null : pythonOverride.trim();
            progress = progress == null ? System.err::println : progress;
            searchPath = searchPath == null ? systemPath() : List.copyOf(searchPath);
        }

        public static Setup of(Path home, String pythonOverride, Consumer<String> progress) {
            return new Setup(home == null ? defaultHome() : home, pythonOverride, progress, Spec.bundled(), systemPath());
        }
    }

    // ------------------------------------------------------------------ spec

    /** The files that decide the venv's content, by name. */
    public static final class Spec {
        private final String origin;
        private final SortedMap<String, byte[]> files;

        private Spec(String origin, SortedMap<String, byte[]> files) {
            if (!files.containsKey("requirements.txt")) {
                throw new PythonEnvException("read venv spec",
                        "the venv spec at " + origin + " has no requirements.txt; expected " + SPEC_FILES);
            }
            this.origin = origin;
            this.files = Collections.unmodifiableSortedMap(files);
        }

        /** The spec bundled with lens4j (resources {@code lens4j/venv-spec/*}). */
        public static Spec bundled() {
            return fromClasspath(PythonEnv.class.getClassLoader(), SPEC_RESOURCE);
        }

        /** The spec files under a classpath folder such as {@code lens4j/venv-spec/}. */
        public static Spec fromClasspath(ClassLoader loader, String prefix) {
            String folder = prefix.endsWith("/") ? prefix : prefix + "/";
            SortedMap<String, byte[]> files = new TreeMap<>();
            for (String name : SPEC_FILES) {
                try (InputStream in = loader.getResourceAsStream(folder + name)) {
                    if (in != null) {
                        files.put(name, in.readAllBytes());
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read resource " + folder + name, e);
                }
            }
            return new Spec("classpath:" + folder + " (built into target/classes or the jar by mvn package)", files);
        }

        /** The spec files in a directory such as the source tree's {@code venv-spec/}. */
        public static Spec fromDirectory(Path dir) {
            SortedMap<String, byte[]> files = new TreeMap<>();
            for (String name : SPEC_FILES) {
                Path file = dir.resolve(name);
                if (Files.isRegularFile(file)) {
                    try {
                        files.put(name, Files.readAllBytes(file));
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot read " + file, e);
                    }
                }
            }
            return new Spec(dir.toString(), files);
        }

        public SortedMap<String, byte[]> files() {
            return files;
        }

        public String origin() {
            return origin;
        }

        /**
         * The venv's directory name: the first 16 hex digits of a SHA-256 over the spec files, the
         * base Python's tag and the platform, since a venv only works with the Python it was made
         * from.
         */
        public String hash(String pythonTag) {
            MessageDigest sha = sha256();
            update(sha, "lens4j-venv 1\n" + pythonTag + "\n" + System.getProperty("os.name") + " "
                    + System.getProperty("os.arch") + "\n");
            for (Map.Entry<String, byte[]> file : files.entrySet()) {
                update(sha, file.getKey() + "\n" + file.getValue().length + "\n");
                sha.update(file.getValue());
            }
            return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
        }

        private static void update(MessageDigest sha, String text) {
            sha.update(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    // ------------------------------------------------------------------ base Python

    /** A Python found on this machine, with the version it reported when run. */
    public record BasePython(Path executable, String implementation, int major, int minor, int micro) {
        /** What the venv hash depends on, e.g. {@code cpython-3.11}. */
        public String tag() {
            return implementation + "-" + major + "." + minor;
        }

        public String version() {
            return major + "." + minor + "." + micro;
        }

        public String describe() {
            return implementation + " " + version() + " at " + executable;
        }
    }

    /**
     * The base Python: {@code pythonOverride} when given (no fallback, so that a wrong
     * LENS4J_PYTHON is reported rather than silently ignored), else the first of
     * {@link #CANDIDATES} on the search path that runs and reports CPython >= 3.10.
     */
    public static BasePython findBasePython(String pythonOverride, List<Path> searchPath) {
        List<String> tried = new ArrayList<>();
        if (pythonOverride != null && !pythonOverride.isBlank()) {
            List<Path> found = pythonOverride.contains("/") || pythonOverride.contains("\\")
                    ? List.of(Path.of(pythonOverride))
                    : onPath(pythonOverride, searchPath);
            if (found.isEmpty()) {
                tried.add("LENS4J_PYTHON=" + pythonOverride + ": not found on PATH");
            }
            for (Path exe : found) {
                BasePython base = probe(exe, "LENS4J_PYTHON=" + pythonOverride, tried);
                if (base != null) {
                    return base;
                }
            }
            throw noPython(tried, true);
        }
        for (String name : CANDIDATES) {
            List<Path> found = onPath(name, searchPath);
            if (found.isEmpty()) {
                tried.add(name + ": not on PATH");
            }
            // Try every copy on PATH: the first may be a broken shim (pyenv's, for a version not installed).
            for (Path exe : found) {
                BasePython base = probe(exe, name, tried);
                if (base != null) {
                    return base;
                }
            }
        }
        throw noPython(tried, false);
    }

    private static PythonEnvException noPython(List<String> tried, boolean override) {
        String fix = override
                ? "Fix: point LENS4J_PYTHON at a CPython 3.10 or newer (e.g. export LENS4J_PYTHON=/usr/bin/python3.11), or unset it to let lens4j look on PATH."
                : "Fix: install CPython 3.10 or newer with venv support (Debian/Ubuntu: apt-get install python3 python3-venv;"
                + " macOS: brew install python@3.12), or set LENS4J_PYTHON to its path.";
        return new PythonEnvException("find Python", null, null,
                "no CPython >= 3." + MIN_MINOR + " found; lens4j needs one to make its Python environment.\n"
                        + "Tried:\n  - " + String.join("\n  - ", tried) + "\n" + fix, null);
    }

    /** Runs {@code exe -c PROBE}; returns null (and notes why in {@code tried}) when it is not usable. */
    private static BasePython probe(Path exe, String label, List<String> tried) {
        String what = label + " (" + exe + ")";
        if (!Files.isRegularFile(exe)) {
            tried.add(what + ": no such file");
            return null;
        }
        if (!Files.isExecutable(exe)) {
            tried.add(what + ": not executable");
            return null;
        }
        List<String> out = new ArrayList<>();
        int code;
        try {
            Process p = new ProcessBuilder(exe.toString(), "-c", PROBE).redirectErrorStream(true).start();
            p.getOutputStream().close();
            try (BufferedReader r = p.inputReader(StandardCharsets.UTF_8)) {
                r.lines().limit(50).forEach(out::add);
            }
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                tried.add(what + ": did not answer within 30 s");
                return null;
            }
            code = p.exitValue();
        } catch (IOException e) {
            tried.add(what + ": cannot run: " + e.getMessage());
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PythonEnvException("find Python", "interrupted while probing " + exe);
        }
        Pattern version = Pattern.compile("(?:lens4j-probe\\s+)?(\\d+)\\.(\\d+)\\.(\\d+)\\S*\\s+(\\S+)(?:\\s+(.+))?");
        for (String line : out) {
            Matcher m = version.matcher(line.trim());
            if (code == 0 && m.matches()) {
                int major = Integer.parseInt(m.group(1));
                int minor = Integer.parseInt(m.group(2));
                String impl = m.group(4);
                String v = major + "." + minor + "." + m.group(3);
                if (major != 3 || minor < MIN_MINOR) {
                    tried.add(what + ": is Python " + v + ", older than 3." + MIN_MINOR);
                    return null;
                }
                if (!impl.equals("cpython")) {
                    tried.add(what + ": is " + impl + " " + v + "; torch's wheels need CPython");
                    return null;
                }
                // The probe's sys.executable resolves shims, whose choice of version depends on the cwd.
                Path real = m.group(5) == null || m.group(5).isBlank() ? exe : Path.of(m.group(5).trim());
                return new BasePython(Files.isExecutable(real) ? real : exe, impl, major, minor, Integer.parseInt(m.group(3)));
            }
        }
        String said = out.isEmpty() ? "no output" : String.join(" | ", out.subList(Math.max(0, out.size() - 3), out.size()));
        tried.add(what + ": exited " + code + " without a version: " + said);
        return null;
    }

    private static List<Path> onPath(String name, List<Path> searchPath) {
        List<Path> found = new ArrayList<>();
        for (Path dir : searchPath) {
            Path exe = dir.resolve(name);
            if (Files.isRegularFile(exe) && Files.isExecutable(exe) && !found.contains(exe)) {
                found.add(exe);
            }
        }
        return found;
    }

    /** The directories of the PATH environment variable. */
    public static List<Path> systemPath() {
        String path = System.getenv("PATH");
        if (path == null || path.isBlank()) {
            return List.of();
        }
        List<Path> dirs = new ArrayList<>();
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (!dir.isBlank()) {
                try {
                    dirs.add(Path.of(dir));
                } catch (RuntimeException ignored) {
                    // an unparsable PATH entry cannot hold a Python
                }
            }
        }
        return dirs;
    }

    // ------------------------------------------------------------------ build

    static boolean isComplete(Path venv) {
        return Files.isRegularFile(venv.resolve(MARKER)) && Files.isExecutable(pythonIn(venv));
    }

    static Path pythonIn(Path venv) {
        boolean windows = System.getProperty("os.name", "").toLowerCase().startsWith("windows");
        return windows ? venv.resolve("Scripts").resolve("python.exe") : venv.resolve("bin").resolve("python");
    }

    private static void withBuildLock(Path venvs, Consumer<String> progress, Runnable action) {
        IN_PROCESS.lock();
        try (FileChannel channel = FileChannel.open(venvs.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock = channel.tryLock();
            if (lock == null) {
                progress.accept("lens4j: another process is making the Python environment in " + venvs + "; waiting for it");
                lock = channel.lock();
            }
            try {
                action.run();
            } finally {
                lock.release();
            }
        } catch (IOException e) {
            throw new PythonEnvException("lock", null, null, "cannot lock " + venvs.resolve(".lock") + ": " + e, e);
        } finally {
            IN_PROCESS.unlock();
        }
    }

    /** One venv build: each step logs to {@code venvs/<hash>.log} and reports progress. */
    private static final class Builder {
        private final Setup setup;
        private final BasePython base;
        private final Path venv;
        private final Path log;
        private final Consumer<String> progress;

        Builder(Setup setup, BasePython base, Path venv, Path log) {
            this.setup = setup;
            this.base = base;
            this.venv = venv;
            this.log = log;
            this.progress = setup.progress();
        }

        void build() {
            Instant start = Instant.now();
            progress.accept("lens4j: creating Python environment in " + venv + " (first run, a few minutes)");
            progress.accept("lens4j: " + DOWNLOAD_SIZE);
            progress.accept("lens4j: base Python: " + base.describe() + "; full log: " + log);
            boolean done = false;
            try (Writer out = Files.newBufferedWriter(log, StandardCharsets.UTF_8)) {
                out.write("lens4j venv build " + Instant.now() + "\nbase " + base.describe() + "\nspec " + setup.spec().origin() + "\n");
                // A build that died half way (killed JVM, full disk) leaves a venv without its marker.
                deleteTree(venv);

                run(out, "create venv", List.of(base.executable().toString(), "-m", "venv", venv.toString()),
                        Duration.ofMinutes(10), line -> { });

                Path python = pythonIn(venv);
                // The spec travels with the venv, so that pip reads files and a person can see what it was made from.
                Path specDir = Files.createDirectories(venv.resolve("lens4j-spec"));
                for (Map.Entry<String, byte[]> file : setup.spec().files().entrySet()) {
                    Files.write(specDir.resolve(file.getKey()), file.getValue());
                }
                PipCondenser condenser = new PipCondenser(progress);
                run(out, "pip install", pipInstall(python, specDir, "requirements.txt"), Duration.ofMinutes(60), condenser);

                progress.accept("lens4j: checking that torch, transformer_lens, circuitsvis and plotly import");
                run(out, "verify imports", List.of(python.toString(), "-c", IMPORT_CHECK), Duration.ofMinutes(10), line -> {
                    if (line.startsWith("lens4j-verified ")) {
                        progress.accept("lens4j:   " + line.substring("lens4j-verified ".length()));
                    }
                });

                if (setup.spec().files().containsKey(EMBEDDED_SPEC)) {
                    installEmbedded(out, python, specDir);
                }

                Path tmp = venv.resolve(MARKER + ".tmp");
                // A properties file, read back by lastDefault().
                Files.writeString(tmp, "# lens4j: this venv is complete\n"
                        + "implementation=" + base.implementation() + "\nversion=" + base.version()
                        + "\nexecutable=" + base.executable().toString().replace("\\", "/")
                        + "\nspec=" + setup.spec().origin() + "\ncreated=" + Instant.now() + "\n");
                Files.move(tmp, venv.resolve(MARKER), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                done = true;
                progress.accept("lens4j: Python environment ready in " + Duration.between(start, Instant.now()).toSeconds() + " s");
            } catch (IOException e) {
                throw new PythonEnvException("prepare", null, null, "cannot write the venv at " + venv + ": " + e, e);
            } finally {
                if (!done) {
                    // A half-made venv is gigabytes of nothing; the log keeps what happened.
                    try {
                        deleteTree(venv);
                    } catch (IOException ignored) {
                        // the next build deletes it again
                    }
                }
            }
        }

        /*
         * JEP compiles against the JDK that runs this JVM (its include/jni.h; the JNI ABI is stable,
         * so the library also loads in later JVMs). Best-effort: the worker needs none of it, so a
         * failure is written down for the embedded engine's start message and the build goes on.
         */
        private void installEmbedded(Writer out, Path python, Path specDir) throws IOException {
            Path jdk = Path.of(System.getProperty("java.home"));
            String why;
            if (!Files.isRegularFile(jdk.resolve("include").resolve("jni.h"))) {
                why = "the JVM that built this venv runs from " + jdk + ", which is a JRE without include/jni.h;"
                        + " JEP needs a JDK's headers to build";
            } else {
                progress.accept("lens4j: building JEP for the embedded engine against " + jdk + " (about a minute)");
                try {
                    run(out, "pip install jep", pipInstall(python, specDir, EMBEDDED_SPEC), Duration.ofMinutes(20), line -> { },
                            Map.of("JAVA_HOME", jdk.toString()));
                    Files.deleteIfExists(venv.resolve(EMBEDDED_FAILED));
                    return;
                } catch (PythonEnvException e) {
                    why = e.getMessage();
                }
            }
            progress.accept("lens4j: the embedded engine will not be available in this venv (the worker is): "
                    + why.lines().findFirst().orElse(why));
            Files.writeString(venv.resolve(EMBEDDED_FAILED), why + "\n");
        }

        /** {@code pip install -r <requirements>} in the venv, held to the lock, with lens4j's download cache. */
        private List<String> pipInstall(Path python, Path specDir, String requirements) {
            List<String> pip = new ArrayList<>(List.of(python.toString(), "-m", "pip", "install",
                    "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
                    "-r", specDir.resolve(requirements).toString()));
            if (setup.spec().files().containsKey("constraints.txt")) {
                pip.addAll(List.of("-c", specDir.resolve("constraints.txt").toString()));
            }
            Path pipCache = pipCacheDir(setup.home(), System.getenv());
            if (pipCache != null) {
                pip.addAll(List.of("--cache-dir", pipCache.toString()));
            }
            return pip;
        }

        private void run(Writer out, String step, List<String> command, Duration timeout, Consumer<String> onLine) throws IOException {
            run(out, step, command, timeout, onLine, Map.of());
        }

        /** Runs one step; on failure throws with the step, the command and the output's tail. */
        private void run(Writer out, String step, List<String> command, Duration timeout, Consumer<String> onLine,
                         Map<String, String> extraEnv) throws IOException {
            out.write("\n$ " + String.join(" ", command) + "\n");
            out.flush();
            Instant started = Instant.now();
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            Map<String, String> env = pb.environment();
            // These would send pip's files elsewhere or mix the user's packages into the venv.
            for (String key : List.of("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PIP_TARGET", "PIP_PREFIX",
                    "PIP_USER", "PIP_REQUIRE_VIRTUALENV", "VIRTUAL_ENV", "CONDA_PREFIX")) {
                env.remove(key);
            }
            env.put("PYTHONNOUSERSITE", "1");
            env.put("PYTHONUNBUFFERED", "1");
            env.putAll(extraEnv);
            Deque<String> tail = new ArrayDeque<>();
            Process p;
            try {
                p = pb.start();
            } catch (IOException e) {
                throw new PythonEnvException(step, command, "", "step '" + step + "' could not start: " + e.getMessage()
                        + "\ncommand: " + String.join(" ", command), e);
            }
            p.getOutputStream().close();
            Thread reader = Thread.ofVirtual().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        synchronized (tail) {
                            tail.addLast(line);
                            if (tail.size() > TAIL_LINES) {
                                tail.removeFirst();
                            }
                            out.write(line);
                            out.write('\n');
                            out.flush(); // so that the log can be followed while pip runs
                        }
                        onLine.accept(line);
                    }
                } catch (IOException e) {
                    // the process ended or the log broke; the exit code tells the rest
                }
            });
            int code;
            try {
                if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                    reader.join(5_000);
                    throw failure(step, command, tail, "did not finish within " + timeout.toMinutes() + " min");
                }
                code = p.exitValue();
                reader.join();
            } catch (InterruptedException e) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw failure(step, command, tail, "was interrupted");
            }
            out.write("[exit " + code + " after " + Duration.between(started, Instant.now()).toSeconds() + " s]\n");
            out.flush();
            if (code != 0) {
                throw failure(step, command, tail, "failed with exit code " + code);
            }
        }

        private PythonEnvException failure(String step, List<String> command, Deque<String> tail, String what) {
            String text;
            synchronized (tail) {
                text = String.join("\n", tail);
            }
            return new PythonEnvException(step, command, text,
                    "making the Python environment failed: step '" + step + "' " + what + ".\n"
                            + "command: " + String.join(" ", command) + "\n"
                            + "last " + TAIL_LINES + " lines of its output:\n" + text.indent(2)
                            + "full log: " + log, null);
        }
    }

    /**
     * Turns pip's hundred-odd lines into a few: the top-level packages, the big downloads, and
     * the install; errors and warnings pass through.
     */
    static final class PipCondenser implements Consumer<String> {
        private static final Pattern DOWNLOAD = Pattern.compile("\\s*(Downloading|Using cached) (\\S+) \\(([\\d.]+) (kB|MB|GB)\\)");
        private final Consumer<String> progress;
        private int collected;

        PipCondenser(Consumer<String> progress) {
            this.progress = progress;
        }

        @Override
        public void accept(String line) {
            String s = line.strip();
            if (s.startsWith("Collecting ")) {
                collected++;
                // Top-level packages come "(from -r .../requirements.txt (line N))", dependencies "(from torch==...)".
                if (!s.contains("(from ") || s.contains("(from -r ")) {
                    String what = s.substring("Collecting ".length());
                    int from = what.indexOf(" (from ");
                    progress.accept("lens4j:   pip: collecting " + (from < 0 ? what : what.substring(0, from)));
                } else if (collected % 25 == 0) {
                    progress.accept("lens4j:   pip: " + collected + " packages resolved so far");
                }
                return;
            }
            Matcher m = DOWNLOAD.matcher(line);
            if (m.lookingAt()) {
                double size = Double.parseDouble(m.group(3));
                boolean big = m.group(4).equals("GB") || (m.group(4).equals("MB") && size >= 20);
                if (big) {
                    String verb = m.group(1).equals("Downloading") ? "downloading " : "using cached ";
                    progress.accept("lens4j:   pip: " + verb + m.group(2) + " (" + m.group(3) + " " + m.group(4) + ")");
                }
                return;
            }
            if (s.startsWith("Installing collected packages:")) {
                int n = s.substring(s.indexOf(':') + 1).split(",").length;
                progress.accept("lens4j:   pip: installing " + n + " packages (" + collected + " resolved); this takes a while");
            } else if (s.startsWith("Successfully installed ")) {
                int n = s.substring("Successfully installed ".length()).split("\\s+").length;
                progress.accept("lens4j:   pip: installed " + n + " packages");
            } else if (s.startsWith("ERROR:") || s.startsWith("WARNING:")) {
                progress.accept("lens4j:   pip: " + s);
            }
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            List<Path> all = walk.sorted(Collections.reverseOrder()).toList();
            for (Path p : all) {
                Files.deleteIfExists(p);
            }
        }
    }

    // ------------------------------------------------------------------ command line

    /**
     * Makes (or finds) the venv and prints the venv's python on the last line of stdout, or the
     * bridge directory with {@code --print-bridge}. Progress and errors go to stderr; exit code 1
     * on failure. Reads LENS4J_HOME and LENS4J_PYTHON.
     */
    public static void main(String[] args) {
        boolean bridge = false;
        for (String arg : args) {
            switch (arg) {
                case "--print-python" -> bridge = false;
                case "--print-bridge" -> bridge = true;
                default -> {
                    System.err.println("usage: java -cp ... " + PythonEnv.class.getName() + " [--print-python | --print-bridge]\n"
                            + "Makes the lens4j venv under $LENS4J_HOME/venvs (default ~/.cache/lens4j) with the Python"
                            + " in $LENS4J_PYTHON or on PATH, and prints the venv's python (or the bridge directory).");
                    System.exit(arg.equals("--help") || arg.equals("-h") ? 0 : 2);
                }
            }
        }
        try {
            PythonEnv env = ensure(defaultHome(), System.getenv("LENS4J_PYTHON"), System.err::println);
            System.out.println(bridge ? env.bridgePath() : env.python());
        } catch (PythonEnvException e) {
            System.err.println("lens4j: " + e.getMessage());
            System.exit(1);
        }
    }
}
