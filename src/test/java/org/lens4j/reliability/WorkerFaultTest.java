package org.lens4j.reliability;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.lens4j.EngineException;
import org.lens4j.Lens;
import org.lens4j.PythonException;
import org.lens4j.ErrorKind;

/**
 * Faults injected into a torch-free worker (the bridge.* ops), so that each restart costs a
 * second or two: kill -9 while idle, mid-call and mid-callback, out-of-memory, Python
 * exceptions, Java Errors in callbacks, timeouts of nested calls, interrupts. After each: a
 * specific exception, the JVM lives, and Lens.restart() gives a working worker.
 * Faults that need a model (hooks, metrics, sweeps) are in {@link ModelFaultTest}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WorkerFaultTest {
    private static Lens lens;

    @BeforeAll
    static void start() {
        lens = Lens.start(Faults.options());
    }

    @AfterAll
    static void stop() {
        lens.close();
    }

    @BeforeEach
    void healthy() {
        Thread.interrupted(); // a test that ends interrupted must not poison the next
        if (!lens.isAlive()) {
            lens.restart();
        }
    }

    /** The worker's pid, and a restart that must give a new, working worker. */
    private static long pid() {
        return Faults.worker(lens).pid();
    }

    private static void restartAndCheck(long deadPid) {
        lens.restart();
        assertNotEquals(deadPid, pid());
        Faults.assertAliveAndWorking(lens);
    }

    @Test
    void killedWhileIdle() throws Exception {
        long pid = pid();
        Path dir = Faults.worker(lens).socketDir();
        Faults.kill9(pid);
        // Nobody called yet, and still the dead worker's socket folder goes at once.
        Faults.waitUntil(() -> !Files.exists(dir), 10_000, "socket folder of a killed worker left behind");
        assertFalse(lens.isAlive());
        EngineException e = assertThrows(EngineException.class, () -> LensAccess.ops(lens).call("bridge.echo", Map.of("value", 1)));
        assertEquals(ErrorKind.ENGINE_DIED, e.kind());
        assertTrue(e.getMessage().contains("restart"), e.getMessage());
        restartAndCheck(pid);
    }

    @Test
    void killedMidCall() {
        long pid = pid();
        CompletableFuture<Void> killer = CompletableFuture.runAsync(() -> {
            sleep(400);
            Faults.kill9(pid);
        });
        long start = System.nanoTime();
        EngineException e = assertThrows(EngineException.class, () -> LensAccess.ops(lens).call("bridge.sleep", Map.of("seconds", 60)));
        assertEquals(ErrorKind.ENGINE_DIED, e.kind());
        assertTrue(e.getMessage().contains("died"), e.getMessage());
        assertTrue(System.nanoTime() - start < 20e9, "the caller noticed the death late");
        killer.join();
        restartAndCheck(pid);
    }

    @Test
    void killedFromInsideAJavaCallback() {
        long pid = pid();
        AtomicInteger calls = new AtomicInteger();
        LensAccess.ops(lens).registerNamed("kill-worker", (args, blobs) -> {
            calls.incrementAndGet();
            Faults.kill9(pid);
            return 42; // the answer goes nowhere: the worker is gone
        });
        EngineException e = assertThrows(EngineException.class,
                () -> LensAccess.ops(lens).call("bridge.callback", Map.of("name", "kill-worker", "repeat", 3)));
        assertEquals(ErrorKind.ENGINE_DIED, e.kind());
        assertEquals(1, calls.get(), "Python cannot have called again after it died");
        restartAndCheck(pid);
    }

    @Test
    void killedFromInsideAJavaCallbackThatThenCallsPython() {
        long pid = pid();
        AtomicReference<Throwable> nested = new AtomicReference<>();
        LensAccess.ops(lens).registerNamed("kill-then-call", (args, blobs) -> {
            Faults.kill9(pid);
            try {
                return LensAccess.ops(lens).call("bridge.echo", Map.of("value", 1)).value();
            } catch (RuntimeException e) {
                nested.set(e);
                throw e;
            }
        });
        EngineException e = assertThrows(EngineException.class,
                () -> LensAccess.ops(lens).call("bridge.callback", Map.of("name", "kill-then-call")));
        assertEquals(ErrorKind.ENGINE_DIED, e.kind());
        EngineException inner = assertInstanceOf(EngineException.class, nested.get());
        assertEquals(ErrorKind.ENGINE_DIED, inner.kind());
        restartAndCheck(pid);
    }

    @Test
    void outOfMemoryInAnOpIsAnErrorAndTheWorkerLivesOn() {
        long pid = pid();
        PythonException simulated = assertThrows(PythonException.class,
                () -> LensAccess.ops(lens).call("bridge.fail", Map.of("kind", "out_of_memory", "message", "simulated: CUDA out of memory")));
        assertEquals(ErrorKind.OUT_OF_MEMORY, simulated.kind());
        assertTrue(simulated.getMessage().contains("CUDA out of memory"), simulated.getMessage());
        // A real failed allocation: 1 PiB is more than any address space, so malloc refuses it
        // whatever the overcommit policy (nothing is touched, the worker is not OOM-killed).
        PythonException real = assertThrows(PythonException.class,
                () -> LensAccess.ops(lens).call("bridge.make_blob", Map.of("dtype", "uint8", "shape", List.of(1L << 50))));
        assertEquals(ErrorKind.OUT_OF_MEMORY, real.kind());
        assertEquals("MemoryError", real.pythonType());
        assertEquals(pid, pid(), "an out-of-memory error must not cost the worker");
        Faults.assertAliveAndWorking(lens);
    }

    @Test
    void aPythonExceptionInAnOpIsAnErrorWithItsTraceback() {
        long pid = pid();
        PythonException e = assertThrows(PythonException.class,
                () -> LensAccess.ops(lens).call("bridge.fail", Map.of("message", "boom from Python")));
        assertEquals(ErrorKind.PYTHON_ERROR, e.kind());
        assertEquals("RuntimeError", e.pythonType());
        assertTrue(e.getMessage().contains("boom from Python"), e.getMessage());
        assertNotNull(e.pythonTraceback());
        assertTrue(e.pythonTraceback().contains("core.py"), e.pythonTraceback());
        assertEquals(pid, pid());
        Faults.assertAliveAndWorking(lens);
    }

    @Test
    void aJavaErrorInACallbackStopsTheWorkerInsteadOfLeavingItsOpHalfRun() {
        long pid = pid();
        LensAccess.ops(lens).registerNamed("java-error", (args, blobs) -> {
            throw new OutOfMemoryError("simulated Java OutOfMemoryError in a hook");
        });
        OutOfMemoryError e = assertThrows(OutOfMemoryError.class,
                () -> LensAccess.ops(lens).call("bridge.callback", Map.of("name", "java-error")));
        assertEquals("simulated Java OutOfMemoryError in a hook", e.getMessage());
        // The op it interrupted can neither finish nor be unwound: the worker was stopped.
        EngineException after = assertThrows(EngineException.class, () -> LensAccess.ops(lens).call("bridge.echo", Map.of("value", 1)));
        assertEquals(ErrorKind.ENGINE_DIED, after.kind());
        restartAndCheck(pid);
    }

    @Test
    void aTimeoutFiresInsideANestedCall() {
        try (Lens timed = Lens.start(Faults.options().withCallTimeout(Duration.ofSeconds(2)))) {
            long pid = Faults.worker(timed).pid();
            AtomicReference<Throwable> nested = new AtomicReference<>();
            LensAccess.ops(timed).registerNamed("sleepy", (args, blobs) -> {
                try {
                    return LensAccess.ops(timed).call("bridge.sleep", Map.of("seconds", 60)).value();
                } catch (RuntimeException e) {
                    nested.set(e);
                    throw e;
                }
            });
            long start = System.nanoTime();
            EngineException e = assertThrows(EngineException.class,
                    () -> LensAccess.ops(timed).call("bridge.callback", Map.of("name", "sleepy")));
            assertEquals(ErrorKind.TIMEOUT, e.kind());
            assertTrue(e.getMessage().contains("timed out after 2000 ms"), e.getMessage());
            assertEquals(ErrorKind.TIMEOUT, assertInstanceOf(EngineException.class, nested.get()).kind());
            assertTrue(System.nanoTime() - start < 30e9, "the timeout fired late");
            Faults.waitUntil(() -> !Faults.running(pid), 10_000, "the stuck worker must be killed");
            // Calls that finish in time are not touched by the timeout.
            timed.restart();
            for (int i = 0; i < 200; i++) {
                assertEquals(i, LensAccess.ops(timed).call("bridge.echo", Map.of("value", i)).value().get("value").asInt());
            }
            assertEquals(0.5, LensAccess.ops(timed).call("bridge.sleep", Map.of("seconds", 0.5)).value().asDouble());
        }
    }

    @Test
    void interruptingACallerQueuedBehindAnotherCallLeavesTheWorkerAlone() throws Exception {
        long pid = pid();
        CountDownLatch sleeping = new CountDownLatch(1);
        LensAccess.ops(lens).registerNamed("started", (args, blobs) -> {
            sleeping.countDown();
            return null;
        });
        CompletableFuture<Double> busy = CompletableFuture.supplyAsync(() -> {
            LensAccess.ops(lens).call("bridge.callback", Map.of("name", "started"));
            return LensAccess.ops(lens).call("bridge.sleep", Map.of("seconds", 2.5)).value().asDouble();
        });
        assertTrue(sleeping.await(60, TimeUnit.SECONDS));
        sleep(300); // the busy thread is inside bridge.sleep now (or about to be)
        AtomicReference<Throwable> queuedFailure = new AtomicReference<>();
        Thread queued = new Thread(() -> {
            try {
                LensAccess.ops(lens).call("bridge.echo", Map.of("value", "queued"));
            } catch (Throwable t) {
                queuedFailure.set(t);
            }
        });
        queued.start();
        sleep(300);
        long interruptedAt = System.nanoTime();
        queued.interrupt();
        queued.join(20_000);
        assertFalse(queued.isAlive());
        EngineException e = assertInstanceOf(EngineException.class, queuedFailure.get());
        assertEquals(ErrorKind.INTERRUPTED, e.kind());
        assertTrue(System.nanoTime() - interruptedAt < 1.5e9, "a queued caller must not wait for the running call to end");
        assertEquals(2.5, busy.get(60, TimeUnit.SECONDS), "the running call is not disturbed");
        assertEquals(pid, pid(), "interrupting a caller that had not started must not cost the worker");
        Faults.assertAliveAndWorking(lens);
    }

    @Test
    void interruptingACallerWhileItRunsAJavaCallback() {
        long pid = pid();
        LensAccess.ops(lens).registerNamed("self-interrupt", (args, blobs) -> {
            Thread.currentThread().interrupt(); // as if another thread interrupted us while our hook ran
            return 1;
        });
        EngineException e = assertThrows(EngineException.class,
                () -> LensAccess.ops(lens).call("bridge.callback", Map.of("name", "self-interrupt")));
        assertEquals(ErrorKind.INTERRUPTED, e.kind());
        assertTrue(Thread.interrupted(), "the interrupt flag is kept for the caller");
        Faults.waitUntil(() -> !Faults.running(pid), 10_000, "the abandoned worker must be stopped");
        restartAndCheck(pid);
    }

    @Test
    void aLensStartedOnAThreadThatEndsKeepsItsWorker() throws Exception {
        // Thread pools, CompletableFuture.supplyAsync and JUnit's preemptive timeouts start
        // Lenses on threads that end long before the Lens does.
        Lens[] box = new Lens[1];
        Thread starter = new Thread(() -> box[0] = Lens.start(Faults.options()));
        starter.start();
        starter.join();
        try (Lens other = box[0]) {
            long pid = Faults.worker(other).pid();
            sleep(1500);
            assertTrue(Faults.running(pid), "the worker died with the thread that started it");
            Faults.assertAliveAndWorking(other);
            // The same for a restart made on a short-lived thread.
            Thread restarter = new Thread(other::restart);
            restarter.start();
            restarter.join();
            sleep(1500);
            assertTrue(other.isAlive(), "the restarted worker died with the thread that restarted it");
            Faults.assertAliveAndWorking(other);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
