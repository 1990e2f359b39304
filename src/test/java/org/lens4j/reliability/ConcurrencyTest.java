package org.lens4j.reliability;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.lens4j.CallbackFailedException;
import org.lens4j.EngineException;
import org.lens4j.HandleClosedException;
import org.lens4j.Lens;
import org.lens4j.Scope;
import org.lens4j.Tensor;

/**
 * Eight threads on one Lens: tensor ops and callbacks that call Python again, each thread
 * checking that it gets its own values; then the same threads while the Lens restarts under
 * them. Every wait has a deadline, so a deadlock fails the test instead of hanging the build.
 */
@Timeout(value = 170, unit = TimeUnit.SECONDS)
class ConcurrencyTest {
    static final int THREADS = 8;

    @Test
    void eightThreadsWithTensorOpsAndNestedCallbacksGetTheirOwnResults() throws Exception {
        Lens lens = Faults.sharedLens(); // torch is imported there once for every test class that needs it
        lens.tensor(new float[] {0}, 1).close();
        int handlesBefore = lens.pythonHandleCount();
        int rounds = 15;
        AtomicInteger checks = new AtomicInteger();
        List<Callable<Void>> tasks = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int thread = t;
            // Each thread's callback makes a tensor from its argument and doubles it in Python: a nested call.
            LensAccess.ops(lens).registerNamed("double-" + t, (args, blobs) -> {
                float v = (float) args.get("v").asDouble();
                try (Tensor x = lens.tensor(new float[] {v}, 1); Tensor y = x.mul(2.0); Tensor s = y.sum()) {
                    return Map.of("thread", thread, "doubled", s.item(), "call", args.get("call").asInt());
                }
            });
            tasks.add(() -> {
                for (int i = 0; i < rounds; i++) {
                    float v = thread * 1000 + i;
                    try (Scope scope = lens.scope()) {
                        Tensor x = lens.tensor(new float[] {v, 1, 2}, 3);
                        assertEquals(v + 3, x.sum().item(), 0, "crossed tensor result");
                        float[] back = x.mul(10.0).toFloatArray();
                        assertEquals(v * 10, back[0], 0, "crossed tensor data");
                        JsonNode answers = LensAccess.ops(lens).call("bridge.callback",
                                Map.of("name", "double-" + thread, "args", Map.of("v", v), "repeat", 2)).value();
                        assertEquals(2, answers.size());
                        for (int k = 0; k < 2; k++) {
                            assertEquals(thread, answers.get(k).get("thread").asInt(), "callback ran for another thread");
                            assertEquals(2 * v, answers.get(k).get("doubled").asDouble(), 0, "crossed nested result");
                            assertEquals(k, answers.get(k).get("call").asInt());
                        }
                        checks.addAndGet(4);
                    }
                }
                return null;
            });
        }
        runAll(tasks, 150);
        assertEquals(THREADS * rounds * 4, checks.get());
        assertEquals(handlesBefore, lens.pythonHandleCount(), "handles leaked across threads");
    }

    @Test
    void eightThreadsWhileTheLensRestartsUnderThem() throws Exception {
        try (Lens lens = Lens.start(Faults.options())) {
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger ok = new AtomicInteger();
            AtomicInteger engineErrors = new AtomicInteger();
            List<Callable<Void>> tasks = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                LensAccess.ops(lens).registerNamed("echo-" + t, (args, blobs) ->
                        LensAccess.ops(lens).call("bridge.echo", Map.of("value", args.get("v").asLong())).value().get("value"));
                tasks.add(() -> {
                    for (long i = 0; !stop.get(); i++) {
                        long v = thread * 1_000_000L + i;
                        try {
                            if (i % 2 == 0) {
                                assertEquals(v, LensAccess.ops(lens).call("bridge.echo", Map.of("value", v)).value().get("value").asLong(),
                                        "crossed result");
                            } else {
                                JsonNode r = LensAccess.ops(lens).call("bridge.callback", Map.of("name", "echo-" + thread, "args", Map.of("v", v))).value();
                                assertEquals(v, r.get(0).asLong(), "crossed nested result");
                            }
                            ok.incrementAndGet();
                        } catch (EngineException | HandleClosedException e) {
                            engineErrors.incrementAndGet(); // the call met a restart: a clear failure, never a wrong value
                            Thread.sleep(20);
                        } catch (CallbackFailedException e) {
                            // the callback's nested call met the restart: the callback failed for a clear reason
                            assertInstanceOf(EngineException.class, e.getCause(), "unexpected callback failure");
                            engineErrors.incrementAndGet();
                            Thread.sleep(20);
                        }
                    }
                    return null;
                });
            }
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<Void>> futures = new ArrayList<>();
                for (Callable<Void> task : tasks) {
                    futures.add(pool.submit(task));
                }
                for (int r = 0; r < 2; r++) {
                    Thread.sleep(1000);
                    lens.restart();
                }
                Thread.sleep(1000);
                stop.set(true);
                for (Future<Void> f : futures) {
                    f.get(60, TimeUnit.SECONDS); // an assertion failure or an unexpected exception surfaces here
                }
            } finally {
                stop.set(true);
                pool.shutdownNow();
            }
            assertTrue(ok.get() > 100, "too few calls succeeded: " + ok.get());
            System.out.printf("restart under load: %d calls answered correctly, %d failed clearly during the 2 restarts%n",
                    ok.get(), engineErrors.get());
            Faults.assertAliveAndWorking(lens);
        }
    }

    static void runAll(List<Callable<Void>> tasks, int seconds) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(tasks.size());
        try {
            List<Future<Void>> futures = new ArrayList<>();
            for (Callable<Void> task : tasks) {
                futures.add(pool.submit(task));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            for (Future<Void> f : futures) {
                try {
                    f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (TimeoutException e) {
                    throw new AssertionError("deadlock or starvation: threads still running after " + seconds + " s\n"
                            + threadDump(), e);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    static String threadDump() {
        StringBuilder sb = new StringBuilder();
        Thread.getAllStackTraces().forEach((t, stack) -> {
            sb.append(t.getName()).append(" ").append(t.getState()).append('\n');
            for (StackTraceElement e : stack) {
                sb.append("    at ").append(e).append('\n');
            }
        });
        return sb.toString();
    }
}
