package org.lens4j.reliability;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.EngineOptions;
import org.lens4j.engine.worker.WorkerEngine;

/** What the reliability tests share: options, the tiny model, and looking at processes, sockets and files from outside. */
final class Faults {
    private Faults() {
    }

    static EngineOptions options() {
        return EngineOptions.defaults().withDevice("cpu").withEngine(EngineOptions.Kind.WORKER); // these tests are about the worker
    }

    private static Lens shared;
    private static Model sharedModel;

    /**
     * One Lens with torch and the tiny model loaded, shared by the test classes that need a
     * model: importing torch costs 10-30 s on a loaded machine, so it is paid once (and once
     * more after {@link ModelFaultTest} restarts it). Tests must not close it; it closes when
     * the JVM exits.
     */
    static synchronized Lens sharedLens() {
        if (shared == null) {
            shared = Lens.start(options());
            Runtime.getRuntime().addShutdownHook(new Thread(shared::close));
        }
        if (!shared.isAlive()) {
            shared.restart();
        }
        return shared;
    }

    static synchronized Model sharedModel() {
        Lens lens = sharedLens();
        if (sharedModel == null) {
            sharedModel = tiny(lens);
        } else if (sharedModel.isClosed()) {
            sharedModel = lens.reload(sharedModel);
        }
        return sharedModel;
    }

    static synchronized void replaceSharedModel(Model model) {
        sharedModel = model;
    }

    /** The project's tiny 2-layer GPT-2 (as TestLens.tiny(), in a folder of our own so that no other test races on it). */
    static Model tiny(Lens lens) {
        Path dir = Path.of("target", "test-models", "reliability-tiny").toAbsolutePath();
        LensAccess.ops(lens).call("model.make_tiny", Map.of("out_dir", dir.toString(), "n_layers", 2, "d_model", 64, "n_heads", 4));
        return lens.load(dir);
    }

    static WorkerEngine worker(Lens lens) {
        return (WorkerEngine) LensAccess.engine(lens);
    }

    static boolean running(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /** kill -9, and wait until the process is gone. */
    static void kill9(long pid) {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        waitUntil(() -> !running(pid), 10_000, "process " + pid + " survived kill -9");
    }

    static void waitUntil(java.util.function.BooleanSupplier condition, long millis, String message) {
        long deadline = System.currentTimeMillis() + millis;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError(message + " (waited " + millis + " ms)");
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting: " + message);
            }
        }
    }

    /** Shared-memory arena files a JVM made (their names start with lens4j-<jvm pid>-). */
    static List<Path> shmFilesOf(long jvmPid) throws IOException {
        Path shm = Path.of("/dev/shm");
        if (!Files.isDirectory(shm)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(shm)) {
            return files.filter(p -> p.getFileName().toString().startsWith("lens4j-" + jvmPid + "-")).toList();
        }
    }

    /** After a worker is gone: no process, no socket folder, no arena file of this JVM. */
    static void assertNothingLeft(long workerPid, Path socketDir, long jvmPid) throws IOException {
        waitUntil(() -> !running(workerPid), 10_000, "worker " + workerPid + " still running");
        waitUntil(() -> !Files.exists(socketDir), 10_000, "socket folder " + socketDir + " left behind");
        assertEquals(List.of(), shmFilesOf(jvmPid), "shared-memory files left behind");
    }

    static long rssKb(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no VmRSS for " + pid);
    }

    /** The inodes of the sockets a process holds open (/proc/PID/fd/* -> socket:[inode]). */
    static Set<String> socketInodes(long pid) throws IOException {
        Set<String> inodes = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:[")) {
                        inodes.add(target.substring("socket:[".length(), target.length() - 1));
                    }
                } catch (IOException ignored) {
                    // the fd closed while we listed them
                }
            }
        }
        return inodes;
    }

    /** The inodes listed in a /proc/PID/net table (tcp, tcp6, udp, udp6, unix). */
    static Set<String> netTableInodes(long pid, String table) throws IOException {
        Path file = Path.of("/proc/" + pid + "/net/" + table);
        Set<String> inodes = new HashSet<>();
        if (!Files.exists(file)) {
            return inodes;
        }
        List<String> lines = Files.readAllLines(file);
        for (String line : lines.subList(1, lines.size())) {
            // tcp/udp/raw rows: sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...; unix rows: Num RefCount Protocol Flags Type St Inode Path
            String[] cols = line.trim().split("\\s+");
            inodes.add(table.equals("unix") ? cols[6] : cols[9]);
        }
        return inodes;
    }

    static List<String> inetSocketsOf(long pid) throws IOException {
        Set<String> mine = socketInodes(pid);
        List<String> found = new ArrayList<>();
        for (String table : List.of("tcp", "tcp6", "udp", "udp6", "raw", "raw6")) {
            for (String inode : netTableInodes(pid, table)) {
                if (mine.contains(inode)) {
                    found.add(table + " inode " + inode);
                }
            }
        }
        return found;
    }

    static void assertAliveAndWorking(Lens lens) {
        assertTrue(lens.isAlive(), "the Lens should take calls");
        assertEquals("ok", LensAccess.ops(lens).call("bridge.echo", Map.of("value", "ok")).value().get("value").asText());
        assertFalse(Thread.currentThread().isInterrupted());
    }
}
