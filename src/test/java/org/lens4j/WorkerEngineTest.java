package org.lens4j;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.lens4j.ErrorKind;
import org.lens4j.engine.worker.WorkerEngine;

/** The worker engine itself: callbacks, crashes, timeouts, security and cleanup. Tests that break a worker start their own. */
class WorkerEngineTest {

    @Test
    void callbacksNestAndMayCallAgain() {
        Lens lens = TestLens.lens();
        List<Integer> depths = new ArrayList<>();
        LensAccess.ops(lens).registerNamed("outer", (args, blobs) -> {
            // inside a Python op, call Python again, which calls Java again
            JsonNode inner = LensAccess.ops(lens).call("bridge.callback", Map.of("name", "inner", "repeat", 2)).value();
            depths.add(inner.size());
            return Map.of("outer", args.get("call").asInt(), "inner", inner);
        });
        LensAccess.ops(lens).registerNamed("inner", (args, blobs) -> args.get("call").asInt() * 10);
        JsonNode result = LensAccess.ops(lens).call("bridge.callback", Map.of("name", "outer", "repeat", 3)).value();
        assertEquals(3, result.size());
        assertEquals(2, result.get(2).get("outer").asInt());
        assertEquals(10, result.get(1).get("inner").get(1).asInt());
        assertEquals(List.of(2, 2, 2), depths);
    }

    @Test
    void anExceptionInACallbackReachesTheCallerAsItsCause() {
        Lens lens = TestLens.lens();
        LensAccess.ops(lens).registerNamed("throws", (args, blobs) -> {
            throw new IllegalStateException("thrown in Java");
        });
        CallbackFailedException e = assertThrows(CallbackFailedException.class,
                () -> LensAccess.ops(lens).call("bridge.callback", Map.of("name", "throws")));
        assertInstanceOf(IllegalStateException.class, e.getCause());
        assertEquals("thrown in Java", e.getCause().getMessage());
        assertTrue(lens.isAlive());
        assertEquals("ok", LensAccess.ops(lens).call("bridge.echo", Map.of("value", "ok")).value().get("value").asText());
    }

    @Test
    void aCrashIsAnExceptionWithTheStderrTailAndRestartGivesAFreshWorker() throws Exception {
        try (Lens lens = Lens.start(TestLens.options())) {
            Tensor before = lens.tensor(new float[] {1, 2}, 2);
            EngineException crash = assertThrows(EngineException.class,
                    () -> LensAccess.ops(lens).call("bridge.exit", Map.of("code", 7)));
            assertEquals(ErrorKind.ENGINE_DIED, crash.kind());
            assertTrue(crash.getMessage().contains("exit code 7"), crash.getMessage());
            assertTrue(crash.getMessage().contains("exiting with code 7 as asked"), crash.getMessage());
            assertFalse(lens.isAlive());
            assertThrows(EngineException.class, () -> lens.tensor(new float[] {1}, 1));
            lens.restart();
            assertTrue(lens.isAlive());
            HandleClosedException stale = assertThrows(HandleClosedException.class, before::toFloatArray);
            assertTrue(stale.getMessage().contains("engine that stopped"), stale.getMessage());
            assertEquals(3.0, lens.tensor(new float[] {1, 2}, 2).sum().item());
        }
    }

    @Test
    void aCallThatHangsTimesOutAndTheWorkerIsStopped() {
        try (Lens lens = Lens.start(TestLens.options().withCallTimeout(Duration.ofSeconds(2)))) {
            long start = System.nanoTime();
            EngineException e = assertThrows(EngineException.class,
                    () -> LensAccess.ops(lens).call("bridge.sleep", Map.of("seconds", 60)));
            assertEquals(ErrorKind.TIMEOUT, e.kind());
            assertTrue(System.nanoTime() - start < 20e9, "the timeout fired late");
            lens.restart();
            assertEquals(0.1, LensAccess.ops(lens).call("bridge.sleep", Map.of("seconds", 0.1)).value().asDouble());
        }
    }

    @Test
    void interruptingAWaitingCallerStopsTheCall() throws Exception {
        try (Lens lens = Lens.start(TestLens.options())) {
            Thread caller = Thread.currentThread();
            Thread interrupter = new Thread(() -> {
                try {
                    Thread.sleep(500);
                } catch (InterruptedException ignored) {
                    return;
                }
                caller.interrupt();
            });
            interrupter.start();
            EngineException e = assertThrows(EngineException.class,
                    () -> LensAccess.ops(lens).call("bridge.sleep", Map.of("seconds", 30)));
            assertEquals(ErrorKind.INTERRUPTED, e.kind());
            assertTrue(Thread.interrupted(), "the interrupt flag is kept for the caller");
            interrupter.join();
            lens.restart();
            assertTrue(lens.isAlive());
        }
    }

    @Test
    void socketIsPrivateAndEverythingIsGoneAfterClose() throws Exception {
        Path dir;
        long pid;
        try (Lens lens = Lens.start(TestLens.options())) {
            WorkerEngine engine = (WorkerEngine) LensAccess.engine(lens);
            dir = engine.socketDir();
            pid = engine.pid();
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("worker.sock"))));
            assertEquals(List.of(), arenaFilesOf(ProcessHandle.current().pid()), "the arena has no name in /dev/shm");
            // It is the worker's memfd, mapped by this JVM: nameless from birth, so no death can leave it.
            assertTrue(Files.readAllLines(Path.of("/proc/self/maps")).stream().anyMatch(l -> l.contains("/memfd:lens4j-arena")),
                    "this JVM maps the worker's memfd arena");
        }
        assertFalse(Files.exists(dir), "socket folder left behind");
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "worker still running");
    }

    static List<Path> arenaFilesOf(long jvmPid) throws IOException {
        try (Stream<Path> files = Files.list(Path.of("/dev/shm"))) {
            return files.filter(p -> p.getFileName().toString().startsWith("lens4j-" + jvmPid + "-")).toList();
        }
    }

    @Test
    void handlesAreFreedByCloseScopeAndGarbageCollection() {
        try (Lens lens = Lens.start(TestLens.options())) { // its own worker: no other test's handles come and go
            handlesAreFreed(lens);
        }
    }

    private static void handlesAreFreed(Lens lens) {
        int before = lens.pythonHandleCount();
        try (Scope scope = lens.scope()) {
            for (int i = 0; i < 50; i++) {
                lens.tensor(new float[] {i}, 1);
            }
            assertEquals(before + 50, lens.pythonHandleCount());
        }
        assertEquals(before, lens.pythonHandleCount());
        for (int i = 0; i < 200; i++) {
            lens.tensor(new float[] {i}, 1); // dropped without close: the Cleaner frees them
        }
        long deadline = System.currentTimeMillis() + 20_000;
        while (lens.pythonHandleCount() > before && System.currentTimeMillis() < deadline) {
            System.gc();
        }
        assertEquals(before, lens.pythonHandleCount());
    }

    @Test
    void tenThousandCallsLeaveNoHandlesAndNoGrowth() throws Exception {
        try (Lens lens = Lens.start(TestLens.options())) {
            long pid = LensAccess.ops(lens).call("bridge.info", Map.of()).value().get("pid").asLong();
            try (Tensor warm = lens.tensor(new float[] {1, 2, 3}, 3)) {
                for (int i = 0; i < 500; i++) {
                    warm.sum().close();
                }
            }
            long rssStart = rssKb(pid);
            try (Tensor t = lens.tensor(new float[] {1, 2, 3}, 3)) {
                for (int i = 0; i < 10_000; i++) {
                    try (Tensor s = t.sum()) {
                        if (i % 1000 == 0) {
                            assertEquals(6.0, s.item());
                        }
                    }
                }
            }
            assertEquals(0, lens.pythonHandleCount());
            long rssEnd = rssKb(pid);
            assertTrue(rssEnd <= rssStart * 1.10, "worker RSS grew from " + rssStart + " kB to " + rssEnd + " kB");
        }
    }

    static long rssKb(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no VmRSS for " + pid);
    }
}
