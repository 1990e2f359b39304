package org.lens4j.reliability;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.lens4j.EngineException;
import org.lens4j.Lens;
import org.lens4j.engine.worker.BundledPython;
import org.lens4j.engine.worker.WorkerEngine;

/**
 * Nothing is left behind (worker process, socket folder, /dev/shm arena file) after a normal
 * close, after the worker crashes, and after the JVM itself is killed with -9, idle or
 * while a call runs.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class CleanupTest {
    private static final long JVM = ProcessHandle.current().pid();

    @Test
    void afterANormalClose() throws Exception {
        Lens lens = Lens.start(Faults.options());
        WorkerEngine worker = Faults.worker(lens);
        long pid = worker.pid();
        Path dir = worker.socketDir();
        Faults.assertAliveAndWorking(lens);
        lens.close();
        Faults.assertNothingLeft(pid, dir, JVM);
    }

    @Test
    void afterTheWorkerCrashesEvenIfNoOneCallsOrClosesAgain() throws Exception {
        try (Lens lens = Lens.start(Faults.options())) {
            // Killed while idle: nobody notices through a call.
            long pid = Faults.worker(lens).pid();
            Path dir = Faults.worker(lens).socketDir();
            Faults.kill9(pid);
            Faults.assertNothingLeft(pid, dir, JVM);

            // Crashed during a call.
            lens.restart();
            long pid2 = Faults.worker(lens).pid();
            Path dir2 = Faults.worker(lens).socketDir();
            assertThrows(EngineException.class, () -> LensAccess.ops(lens).call("bridge.exit", Map.of("code", 11)));
            Faults.assertNothingLeft(pid2, dir2, JVM);
        }
    }

    @Test
    void afterTheJvmIsKilledWhileIdle() throws Exception {
        killChildJvm(false);
    }

    @Test
    void afterTheJvmIsKilledDuringACall() throws Exception {
        killChildJvm(true);
    }

    /**
     * The JVM killed with -9 at 20 moments spread across {@code Lens.start()} (issue 20.2): the
     * worker goes, and nothing is left once the next start has swept (a folder can only stay
     * when the JVM dies between making it and starting the worker, which nobody else can see).
     */
    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void afterTheJvmIsKilledAtTwentyMomentsDuringStart() throws Exception {
        // How long a start takes here: one child runs it whole.
        Process probe = startChild(false);
        long startMs;
        try {
            String started = readLineStartingWith(probe, "STARTED ", 60);
            startMs = Long.parseLong(started.substring("STARTED ms=".length()).trim());
        } finally {
            killAndReap(probe);
        }
        List<Long> children = new ArrayList<>(List.of(probe.pid()));
        int leftBeforeSweep = 0;
        StringBuilder log = new StringBuilder("start takes " + startMs + " ms; kills at (ms after STARTING):");
        for (int i = 0; i < 20; i++) {
            long delay = Math.round(startMs * (i + 0.5) / 20.0 * 1.1); // the last ones land just after the start
            Process child = startChild(false);
            children.add(child.pid());
            readLineStartingWith(child, "STARTING ", 60);
            Thread.sleep(delay);
            killAndReap(child);
            long pid = child.pid();
            Faults.waitUntil(() -> workersOf(pid).isEmpty(), 10_000, "a worker of killed JVM " + pid + " still runs");
            Thread.sleep(300); // the worker's own cleanup has run by now
            List<Path> left = leftoversOf(pid);
            leftBeforeSweep += left.isEmpty() ? 0 : 1;
            log.append(' ').append(delay).append(left.isEmpty() ? "" : "(left " + left + ")");
        }
        System.out.println("CleanupTest start window: " + log + "; trials that left something before the next start's sweep: "
                + leftBeforeSweep + " of 20");
        // The next start sweeps what dead JVMs left.
        try (Lens lens = Lens.start(Faults.options())) {
            Faults.assertAliveAndWorking(lens);
        }
        for (long pid : children) {
            assertEquals(List.of(), leftoversOf(pid), "left by JVM " + pid + " after the next start's sweep");
            assertEquals(List.of(), workersOf(pid), "workers of JVM " + pid);
        }
    }

    private static Process startChild(boolean busy) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", childClassPath()));
        String bridge = System.getProperty(BundledPython.DEV_PROPERTY);
        if (bridge != null) {
            command.add("-D" + BundledPython.DEV_PROPERTY + "=" + bridge);
        }
        command.add(ChildLens.class.getName());
        if (busy) {
            command.add("busy");
        }
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    private static void killAndReap(Process child) throws Exception {
        child.destroyForcibly(); // SIGKILL
        assertTrue(child.waitFor(10, TimeUnit.SECONDS), "the child JVM survived kill -9");
    }

    /**
     * Reads the child's output up to a line with the prefix (within {@code seconds}), then drains the
     * rest in the background so the child never blocks on a full pipe.
     */
    private static String readLineStartingWith(Process child, String prefix, int seconds) throws Exception {
        BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> found = CompletableFuture.supplyAsync(() -> {
            StringBuilder all = new StringBuilder();
            try {
                String l;
                while ((l = r.readLine()) != null) {
                    if (l.startsWith(prefix)) {
                        return l;
                    }
                    all.append(l).append('\n');
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            throw new AssertionError("the child JVM ended without a " + prefix + "line:\n" + all);
        });
        String line = found.get(seconds, TimeUnit.SECONDS);
        Thread drain = new Thread(() -> {
            try {
                r.transferTo(java.io.Writer.nullWriter());
            } catch (java.io.IOException ignored) {
                // the child was killed
            }
        });
        drain.setDaemon(true);
        drain.start();
        return line;
    }

    /** Worker processes started by a given JVM: their --socket path is in lens4j-<jvm pid>-*. */
    private static List<Long> workersOf(long jvmPid) {
        String mark = "lens4j-" + jvmPid + "-";
        return ProcessHandle.allProcesses().filter(p -> p.isAlive()
                && p.info().commandLine().map(c -> c.contains("lens4j_bridge") && c.contains(mark)).orElse(false))
                .map(ProcessHandle::pid).toList();
    }

    /** Socket folders and /dev/shm files named after a JVM. */
    private static List<Path> leftoversOf(long jvmPid) throws java.io.IOException {
        List<Path> found = new ArrayList<>(Faults.shmFilesOf(jvmPid));
        try (var entries = java.nio.file.Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            entries.filter(p -> p.getFileName().toString().startsWith("lens4j-" + jvmPid + "-")).forEach(found::add);
        }
        return found;
    }

    private static void killChildJvm(boolean busy) throws Exception {
        Process child = startChild(busy);
        try {
            String found = readLineStartingWith(child, "CHILD ", 120);
            Matcher m = Pattern.compile("CHILD jvm=(\\d+) worker=(\\d+) dir=(.+)").matcher(found);
            assertTrue(m.matches(), found);
            long childJvm = Long.parseLong(m.group(1));
            long worker = Long.parseLong(m.group(2));
            Path dir = Path.of(m.group(3));
            assertEquals(child.pid(), childJvm);
            assertTrue(Faults.running(worker));

            Faults.kill9(child.pid());
            Faults.assertNothingLeft(worker, dir, childJvm);
        } finally {
            child.destroyForcibly();
        }
    }

    /** This JVM's class path (under surefire, a manifest-only jar naming everything) plus the build folders. */
    private static String childClassPath() {
        return String.join(File.pathSeparator, Path.of("target", "test-classes").toAbsolutePath().toString(),
                Path.of("target", "classes").toAbsolutePath().toString(), System.getProperty("java.class.path"));
    }
}
