package org.lens4j.engine.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PythonEnv and BundledPython, without building the real venv (the launcher builds that once
 * for the whole suite): spec hashing, finding a base Python, a pip failure's report, and
 * unpacking the bridge.
 */
class PythonEnvTest {
    @TempDir
    Path tmp;

    private Path specDir(String requirements, String constraints) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("spec-" + System.nanoTime()));
        Files.writeString(dir.resolve("requirements.txt"), requirements);
        if (constraints != null) {
            Files.writeString(dir.resolve("constraints.txt"), constraints);
        }
        return dir;
    }

    private Path script(String name, String body) throws IOException {
        Path bin = Files.createDirectories(tmp.resolve("bin-" + System.nanoTime()));
        Path exe = bin.resolve(name);
        Files.writeString(exe, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(exe, PosixFilePermissions.fromString("rwxr-xr-x"));
        return exe;
    }

    @Test
    void specHashIsStableAndFollowsEveryInput() throws IOException {
        Path a = specDir("torch==2.13.0\n", "numpy==2.4.6\n");
        Path same = specDir("torch==2.13.0\n", "numpy==2.4.6\n");
        Path otherReq = specDir("torch==2.13.1\n", "numpy==2.4.6\n");
        Path otherLock = specDir("torch==2.13.0\n", "numpy==2.4.5\n");
        Files.writeString(same.resolve("README.md"), "not part of the spec");

        String h = PythonEnv.Spec.fromDirectory(a).hash("cpython-3.11");
        assertEquals(16, h.length());
        assertTrue(h.matches("[0-9a-f]{16}"), h);
        assertEquals(h, PythonEnv.Spec.fromDirectory(a).hash("cpython-3.11"), "same files, same hash");
        assertEquals(h, PythonEnv.Spec.fromDirectory(same).hash("cpython-3.11"), "other files in venv-spec/ do not count");
        assertNotEquals(h, PythonEnv.Spec.fromDirectory(otherReq).hash("cpython-3.11"));
        assertNotEquals(h, PythonEnv.Spec.fromDirectory(otherLock).hash("cpython-3.11"));
        assertNotEquals(h, PythonEnv.Spec.fromDirectory(a).hash("cpython-3.12"), "a venv belongs to its base Python");
    }

    @Test
    void bundledSpecIsOnTheClasspathAndPinsTheCorePackages() {
        PythonEnv.Spec spec = PythonEnv.Spec.bundled();
        String req = new String(spec.files().get("requirements.txt"), StandardCharsets.UTF_8);
        String lock = new String(spec.files().get("constraints.txt"), StandardCharsets.UTF_8);
        assertTrue(req.contains("transformer-lens==4.3.0"), req);
        assertTrue(req.contains("torch==2.13.0"), req);
        assertTrue(lock.lines().anyMatch(l -> l.startsWith("transformers==")), "the lock pins transitive packages");
        assertEquals(spec.hash("cpython-3.11"), PythonEnv.Spec.bundled().hash("cpython-3.11"));
    }

    @Test
    void specWithoutRequirementsIsRejected() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("empty-spec"));
        PythonEnvException e = assertThrows(PythonEnvException.class, () -> PythonEnv.Spec.fromDirectory(empty));
        assertTrue(e.getMessage().contains("requirements.txt"), e.getMessage());
    }

    @Test
    void missingOverrideNamesWhatWasTriedAndHowToFix() {
        Path nowhere = tmp.resolve("no/such/python3");
        PythonEnvException e = assertThrows(PythonEnvException.class,
                () -> PythonEnv.findBasePython(nowhere.toString(), List.of()));
        assertEquals("find Python", e.step());
        assertTrue(e.getMessage().contains(nowhere.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
        assertTrue(e.getMessage().contains("LENS4J_PYTHON"), e.getMessage());
        assertTrue(e.getMessage().contains(">= 3.10"), e.getMessage());
    }

    @Test
    void tooOldPythonIsRejected() throws IOException {
        // Ignores its arguments, like no real Python, and says it is 3.8.
        Path old = script("python", "echo 'lens4j-probe 3.8.18 cpython /usr/bin/python3.8'");
        PythonEnvException e = assertThrows(PythonEnvException.class,
                () -> PythonEnv.findBasePython(old.toString(), List.of()));
        assertTrue(e.getMessage().contains("3.8.18, older than 3.10"), e.getMessage());
        assertTrue(e.getMessage().contains(old.toString()), e.getMessage());
    }

    @Test
    void searchSkipsBrokenAndOldPythonsAndReportsEach() throws IOException {
        Path brokenShim = script("python3.13", "echo 'pyenv: python3.13: command not found' >&2; exit 127");
        Path old = script("python3", "echo 'lens4j-probe 3.9.1 cpython /x/python3.9'");
        List<Path> path = List.of(brokenShim.getParent(), old.getParent());
        PythonEnvException e = assertThrows(PythonEnvException.class, () -> PythonEnv.findBasePython(null, path));
        String msg = e.getMessage();
        assertTrue(msg.contains("python3.13 (" + brokenShim + "): exited 127"), msg);
        assertTrue(msg.contains("command not found"), msg);
        assertTrue(msg.contains("python3.12: not on PATH"), msg);
        assertTrue(msg.contains("3.9.1, older than 3.10"), msg);
        assertTrue(msg.contains("apt-get install python3 python3-venv"), msg);

        Path good = script("python3.11", "echo 'lens4j-probe 3.11.4 cpython " + tmp.resolve("missing-real-exe") + "'");
        PythonEnv.BasePython base = PythonEnv.findBasePython(null, List.of(brokenShim.getParent(), good.getParent()));
        assertEquals("cpython-3.11", base.tag());
        assertEquals(good, base.executable(), "falls back to the found path when sys.executable is not a file");
    }

    @Test
    void nonCPythonIsRejected() throws IOException {
        Path pypy = script("python", "echo 'lens4j-probe 3.10.14 pypy /opt/pypy/bin/pypy3'");
        PythonEnvException e = assertThrows(PythonEnvException.class,
                () -> PythonEnv.findBasePython(pypy.toString(), List.of()));
        assertTrue(e.getMessage().contains("torch's wheels need CPython"), e.getMessage());
    }

    /** A real Python from this machine, for the tests that run venv and pip; skipped without one. */
    private PythonEnv.BasePython realPython() {
        try {
            return PythonEnv.findBasePython(System.getenv("LENS4J_PYTHON"), PythonEnv.systemPath());
        } catch (PythonEnvException e) {
            assumeTrue(false, "no Python >= 3.10 here: " + e.getMessage());
            return null;
        }
    }

    @Test
    void failingPipStepReportsStepCommandAndOutputTail() throws IOException {
        PythonEnv.BasePython base = realPython();
        // --no-index keeps pip off the network, so this fails fast and the same way everywhere.
        Path spec = specDir("--no-index\nlens4j-no-such-package-xyz==1.0\n", "");
        Path home = tmp.resolve("home");
        List<String> progress = Collections.synchronizedList(new ArrayList<>());
        PythonEnv.Setup setup = new PythonEnv.Setup(home, base.executable().toString(), progress::add,
                PythonEnv.Spec.fromDirectory(spec), List.of());

        PythonEnvException e = assertThrows(PythonEnvException.class, () -> PythonEnv.ensure(setup));

        assertEquals("pip install", e.step());
        assertTrue(e.command().containsAll(List.of("-m", "pip", "install", "-r")), e.command().toString());
        assertTrue(e.outputTail().contains("lens4j-no-such-package-xyz"), e.outputTail());
        String msg = e.getMessage();
        assertTrue(msg.contains("step 'pip install' failed with exit code"), msg);
        assertTrue(msg.contains("command: " + String.join(" ", e.command())), msg);
        assertTrue(msg.contains("No matching distribution found for lens4j-no-such-package-xyz"), msg);
        assertTrue(progress.stream().anyMatch(l -> l.startsWith("lens4j: creating Python environment in ")), progress.toString());
        assertTrue(progress.stream().anyMatch(l -> l.contains("pip: ERROR:")), "pip's errors reach the progress: " + progress);

        String hash = setup.spec().hash(base.tag());
        Path venv = home.resolve("venvs").resolve(hash);
        assertFalse(Files.exists(venv), "a failed build leaves no half-made venv");
        Path log = home.resolve("venvs").resolve(hash + ".log");
        assertTrue(msg.contains("full log: " + log), msg);
        assertTrue(Files.readString(log).contains("No matching distribution"), "the log keeps pip's whole output");
    }

    @Test
    void completeVenvIsReusedWithoutRunningPip() throws Exception {
        PythonEnv.BasePython base = realPython();
        Path spec = specDir("--no-index\nlens4j-no-such-package-xyz==1.0\n", "");
        Path home = tmp.resolve("home");
        PythonEnv.Setup setup = new PythonEnv.Setup(home, base.executable().toString(), l -> { },
                PythonEnv.Spec.fromDirectory(spec), List.of());
        // A venv whose marker exists counts as done: the failing pip would show if it ran.
        Path venv = home.resolve("venvs").resolve(setup.spec().hash(base.tag()));
        Path python = PythonEnv.pythonIn(venv);
        Files.createDirectories(python.getParent());
        Files.writeString(python, "#!/bin/sh\nexec " + base.executable() + " \"$@\"\n");
        Files.setPosixFilePermissions(python, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(venv.resolve(PythonEnv.MARKER), "test\n");

        // Two threads at once: the fast path takes no lock and shares one result.
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Callable<PythonEnv> task = () -> PythonEnv.ensure(setup);
            Future<PythonEnv> f1 = pool.submit(task);
            Future<PythonEnv> f2 = pool.submit(task);
            assertEquals(python, f1.get().python());
            assertEquals(python, f2.get().python());
            assertTrue(Files.isRegularFile(f1.get().bridgePath().resolve("lens4j_bridge/__init__.py")));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void defaultVenvIsRememberedSoTheNextStartNeedsNoPythonSearch() throws IOException {
        Path home = tmp.resolve("home");
        PythonEnv.Spec spec = PythonEnv.Spec.fromDirectory(specDir("--no-index\nlens4j-no-such-package-xyz==1.0\n", ""));
        Path fake = script("python3", "echo 'lens4j-probe 3.11.4 cpython " + tmp.resolve("nowhere/python3.11") + "'");
        Path venv = home.resolve("venvs").resolve(spec.hash("cpython-3.11"));
        Path python = PythonEnv.pythonIn(venv);
        Files.createDirectories(python.getParent());
        Files.writeString(python, "#!/bin/sh\n");
        Files.setPosixFilePermissions(python, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(venv.resolve(PythonEnv.MARKER), "implementation=cpython\nversion=3.11.4\nexecutable=/opt/py/bin/python3.11\n");

        PythonEnv first = PythonEnv.ensure(new PythonEnv.Setup(home, null, l -> { }, spec, List.of(fake.getParent())));
        assertEquals(venv, first.venv());
        // No Python on the search path now: the remembered venv is used without a search.
        PythonEnv again = PythonEnv.ensure(new PythonEnv.Setup(home, null, l -> { }, spec, List.of()));
        assertEquals(venv, again.venv());
        assertEquals("cpython 3.11.4 at /opt/py/bin/python3.11", again.base().describe());
        // An explicit LENS4J_PYTHON always searches, and a bad one is reported, not bypassed.
        assertThrows(PythonEnvException.class,
                () -> PythonEnv.ensure(new PythonEnv.Setup(home, tmp.resolve("nope").toString(), l -> { }, spec, List.of())));
        // A venv that lost its marker is not reused through the pointer.
        Files.delete(venv.resolve(PythonEnv.MARKER));
        PythonEnvException e = assertThrows(PythonEnvException.class,
                () -> PythonEnv.ensure(new PythonEnv.Setup(home, null, l -> { }, spec, List.of())));
        assertEquals("find Python", e.step());
    }

    @Test
    void waitsForAnotherProcessBuildingTheSameVenvAndReusesIt() throws Exception {
        PythonEnv.BasePython base = realPython();
        Path spec = specDir("--no-index\nlens4j-no-such-package-xyz==1.0\n", "");
        Path home = tmp.resolve("home");
        List<String> progress = Collections.synchronizedList(new ArrayList<>());
        PythonEnv.Setup setup = new PythonEnv.Setup(home, base.executable().toString(), progress::add,
                PythonEnv.Spec.fromDirectory(spec), List.of());
        Path venvs = Files.createDirectories(home.resolve("venvs"));
        Path venv = venvs.resolve(setup.spec().hash(base.tag()));
        // Another process (Python's fcntl locks are the same POSIX locks as FileChannel's) holds
        // the build lock, "builds" the venv, and lets go; this JVM must wait, then reuse it.
        String other = String.join("\n",
                "import fcntl, os, sys, time",
                "lock = open(sys.argv[1], 'a'); fcntl.lockf(lock, fcntl.LOCK_EX)",
                "print('locked', flush=True)",
                "time.sleep(1.5)",
                "os.makedirs(os.path.join(sys.argv[2], 'bin'))",
                "exe = os.path.join(sys.argv[2], 'bin', 'python')",
                "open(exe, 'w').write('#!/bin/sh\\nexec %s \"$@\"\\n' % sys.executable); os.chmod(exe, 0o755)",
                "open(os.path.join(sys.argv[2], sys.argv[3]), 'w').write('built by the other process')",
                "fcntl.lockf(lock, fcntl.LOCK_UN)");
        Process p = new ProcessBuilder(base.executable().toString(), "-c", other,
                venvs.resolve(".lock").toString(), venv.toString(), PythonEnv.MARKER).redirectErrorStream(true).start();
        try {
            assertEquals("locked", p.inputReader().readLine());
            PythonEnv env = PythonEnv.ensure(setup);
            assertEquals(venv, env.venv());
            assertTrue(progress.stream().anyMatch(l -> l.contains("another process is making the Python environment")), progress.toString());
            assertTrue(progress.stream().noneMatch(l -> l.contains("creating Python environment")), "no second build: " + progress);
            assertEquals("built by the other process", Files.readString(venv.resolve(PythonEnv.MARKER)));
            assertEquals(0, p.waitFor());
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void bridgeIsExtractedFromADirectoryOnceAndByContent() throws IOException {
        Path classes = Files.createDirectories(tmp.resolve("classes"));
        Path pkg = Files.createDirectories(classes.resolve("x/python/lens4j_bridge/toy/models/m"));
        Files.writeString(classes.resolve("x/python/lens4j_bridge/__init__.py"), "VERSION = 1\n");
        Files.write(pkg.resolve("model.safetensors"), new byte[] {1, 2, 3});
        Files.createDirectories(classes.resolve("x/python/lens4j_bridge/__pycache__"));
        Files.writeString(classes.resolve("x/python/lens4j_bridge/__pycache__/junk.pyc"), "compiled");
        Path home = tmp.resolve("home");

        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, null)) {
            Path dir = BundledPython.extract(home, loader, "x/python/");
            assertEquals(home.resolve("bridge"), dir.getParent());
            assertEquals("VERSION = 1\n", Files.readString(dir.resolve("lens4j_bridge/__init__.py")));
            assertEquals(3, Files.readAllBytes(dir.resolve("lens4j_bridge/toy/models/m/model.safetensors")).length);
            assertFalse(Files.exists(dir.resolve("lens4j_bridge/__pycache__")), "compiled files are not unpacked");
            assertEquals(dir, BundledPython.extract(home, loader, "x/python/"), "same content, same directory");

            Files.writeString(classes.resolve("x/python/lens4j_bridge/__init__.py"), "VERSION = 2\n");
            Path next = BundledPython.extract(home, loader, "x/python/");
            assertNotEquals(dir, next, "new content, new directory");
            assertEquals("VERSION = 2\n", Files.readString(next.resolve("lens4j_bridge/__init__.py")));
            try (Stream<Path> left = Files.list(home.resolve("bridge"))) {
                assertEquals(2, left.count(), "no temp directories are left behind");
            }
        }
    }

    @Test
    void bundledBridgeIsOnTheClasspath() {
        SortedMap<String, byte[]> files = BundledPython.read(BundledPython.class.getClassLoader(), BundledPython.RESOURCE_ROOT);
        assertTrue(files.containsKey("lens4j_bridge/__init__.py"), files.keySet().toString());
        assertTrue(files.containsKey("lens4j_bridge/ops/__init__.py"), files.keySet().toString());
        assertTrue(files.keySet().stream().noneMatch(n -> n.contains("__pycache__")), files.keySet().toString());
    }

    @Test
    void missingBridgeResourceSaysHowToFix() throws IOException {
        try (URLClassLoader empty = new URLClassLoader(new URL[0], null)) {
            PythonEnvException e = assertThrows(PythonEnvException.class,
                    () -> BundledPython.extract(tmp, empty, BundledPython.RESOURCE_ROOT));
            assertTrue(e.getMessage().contains("LENS4J_BRIDGE_DIR"), e.getMessage());
        }
    }

    @Test
    void pipOutputIsCondensed() {
        List<String> out = new ArrayList<>();
        PythonEnv.PipCondenser c = new PythonEnv.PipCondenser(out::add);
        c.accept("Collecting torch==2.13.0 (from -r /h/venvs/x/lens4j-spec/requirements.txt (line 5))");
        c.accept("  Downloading torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl (526.6 MB)");
        c.accept("Collecting filelock (from torch==2.13.0)");
        c.accept("  Downloading filelock-4.2.11-py3-none-any.whl (222 kB)");
        c.accept("     ━━━━━━━━━━━━━━━━━━━━━━━━━ 222.0/222.0 kB 113.0 MB/s eta 0:00:00");
        c.accept("Installing collected packages: filelock, torch");
        c.accept("Successfully installed filelock-4.2.11 torch-2.13.0");
        assertEquals(List.of(
                "lens4j:   pip: collecting torch==2.13.0",
                "lens4j:   pip: downloading torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl (526.6 MB)",
                "lens4j:   pip: installing 2 packages (2 resolved); this takes a while",
                "lens4j:   pip: installed 2 packages"), out);
    }
}
