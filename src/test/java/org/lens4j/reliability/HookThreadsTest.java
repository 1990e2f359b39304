package org.lens4j.reliability;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.lens4j.EngineException;
import org.lens4j.Lens;
import org.lens4j.LensException;
import org.lens4j.Model;
import org.lens4j.Scope;
import org.lens4j.Tensor;
import org.lens4j.ErrorKind;
import org.lens4j.hook.Hook;

/**
 * Java hooks that use the Lens from other threads (issue 20.1), and a worker killed while a
 * Java callback runs (20.6): what used to deadlock for ever now either nests into the hook or
 * is released with a clear exception, and no Java thread stays blocked.
 */
@Timeout(value = 170, unit = TimeUnit.SECONDS)
class HookThreadsTest {
    static final String PROMPT = "When John and Mary went to the shops, John gave the bag to";

    /** The case: a hook reads its activation in a parallel stream on pool threads. */
    @Test
    void aHookMayHandItsActivationToPoolThreads() throws Exception {
        Model model = Faults.sharedModel();
        Lens lens = model.lens();
        int handlesBefore = lens.pythonHandleCount();
        Set<String> callers = ConcurrentHashMap.newKeySet();
        AtomicReference<float[]> onHookThread = new AtomicReference<>();
        AtomicReference<List<float[]>> onPool = new AtomicReference<>();
        ForkJoinPool pool = new ForkJoinPool(4);
        try (Scope scope = lens.scope()) {
            Tensor plain = model.runWithHooks(PROMPT);
            Tensor logits = model.runWithHooks(PROMPT, Hook.at("blocks.1.attn.hook_z").java((z, hook) -> {
                onHookThread.set(z.toFloatArray());
                String hookThread = Thread.currentThread().getName();
                // Every read, and a tensor derived from the activation on a pool thread, names the hook's handles.
                onPool.set(pool.submit(() -> IntStream.range(0, 8).parallel().mapToObj(i -> {
                    callers.add(Thread.currentThread().getName());
                    try (Tensor doubled = z.mul(2.0)) {
                        float[] a = z.toFloatArray();
                        float[] d = doubled.toFloatArray();
                        for (int k = 0; k < a.length; k++) {
                            assertEquals(2 * a[k], d[k], 1e-6f);
                        }
                        return a;
                    }
                }).toList()).get(60, TimeUnit.SECONDS));
                callers.remove(hookThread);
                return null;
            }));
            assertArrayEquals(plain.toFloatArray(), logits.toFloatArray(), "a read-only hook changed the logits");
        } finally {
            pool.shutdownNow();
        }
        assertFalse(callers.isEmpty(), "no call came from a thread other than the hook's");
        assertEquals(8, onPool.get().size());
        for (float[] read : onPool.get()) {
            assertArrayEquals(onHookThread.get(), read, "a pool thread read something else than the hook's thread");
        }
        assertEquals(handlesBefore, lens.pythonHandleCount(), "handles leaked");
        Faults.assertAliveAndWorking(lens);
    }

    /**
     * A thread that names none of the hook's handles is another caller: it waits for the outer
     * call. Joined from inside the callback that is a deadlock, which the call timeout ends,
     * releasing the waiting thread too (it stayed blocked for ever before).
     */
    @Test
    void aCallTimeoutReleasesEveryWaiter() throws Exception {
        try (Lens lens = Lens.start(Faults.options().withCallTimeout(Duration.ofSeconds(3)))) {
            AtomicReference<Throwable> helperGot = new AtomicReference<>();
            AtomicReference<Thread> helper = new AtomicReference<>();
            LensAccess.ops(lens).registerNamed("joins-a-stranger", (args, blobs) -> {
                Thread t = new Thread(() -> {
                    try {
                        LensAccess.ops(lens).call("bridge.echo", Map.of("value", 1));
                    } catch (Throwable e) {
                        helperGot.set(e);
                    }
                }, "stranger");
                helper.set(t);
                t.start();
                t.join(30_000);
                return "joined";
            });
            long t0 = System.nanoTime();
            EngineException e = assertThrows(EngineException.class,
                    () -> LensAccess.ops(lens).call("bridge.callback", Map.of("name", "joins-a-stranger")));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertEquals(ErrorKind.TIMEOUT, e.kind(), e.getMessage());
            assertTrue(ms < 10_000, "the timeout took " + ms + " ms");
            assertFalse(helper.get().isAlive(), "the waiting thread is still blocked");
            LensException waiter = assertInstanceOf(LensException.class, helperGot.get());
            assertEquals(ErrorKind.ENGINE_DIED, waiter.kind());
            assertTrue(waiter.getMessage().contains("TIMEOUT"), waiter.getMessage());
            lens.restart();
            Faults.assertAliveAndWorking(lens);
        }
    }

    /**
     * The worker is killed with -9 while a Java callback runs: a thread waiting on the engine
     * hears at once (not when the callback returns), and the message names SIGKILL, memory as
     * its likely cause, and the worker's last RSS.
     */
    @Test
    void aWorkerKilledDuringACallbackIsReportedAtOnceToWaiters() throws Exception {
        try (Lens lens = Lens.start(Faults.options())) {
            long pid = Faults.worker(lens).pid();
            Thread.sleep(700); // at least one RSS sample
            AtomicReference<Throwable> waiterGot = new AtomicReference<>();
            AtomicLong heardAfterMs = new AtomicLong(-1);
            LensAccess.ops(lens).registerNamed("killed-meanwhile", (args, blobs) -> {
                Thread waiter = new Thread(() -> {
                    try {
                        LensAccess.ops(lens).call("bridge.echo", Map.of("value", 1));
                    } catch (Throwable e) {
                        waiterGot.set(e);
                    }
                }, "waiter");
                waiter.start();
                Thread.sleep(300); // the waiter is queued behind this call
                long killed = System.nanoTime();
                Faults.kill9(pid);
                waiter.join(5_000);
                heardAfterMs.set(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed));
                Thread.sleep(1_000); // the callback goes on; the waiter did not wait for it
                return "done";
            });
            EngineException outer = assertThrows(EngineException.class,
                    () -> LensAccess.ops(lens).call("bridge.callback", Map.of("name", "killed-meanwhile")));
            assertEquals(ErrorKind.ENGINE_DIED, outer.kind());
            assertNotNull(waiterGot.get(), "the waiting thread got no exception");
            assertTrue(heardAfterMs.get() >= 0 && heardAfterMs.get() < 2_000, "the waiter heard after " + heardAfterMs.get() + " ms");
            LensException waiter = assertInstanceOf(LensException.class, waiterGot.get());
            assertEquals(ErrorKind.ENGINE_DIED, waiter.kind());
            for (String m : List.of(waiter.getMessage(), outer.getMessage())) {
                assertTrue(m.contains("SIGKILL") && m.contains("out-of-memory") && m.contains("GB RSS"), m);
            }
            lens.restart();
            Faults.assertAliveAndWorking(lens);
        }
    }
}
