package org.lens4j.reliability;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.lens4j.ActivationCache;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Run;
import org.lens4j.Scope;
import org.lens4j.Tensor;

/**
 * The soak: 100,000 small calls and 1,000 runWithCache calls whose activations are
 * materialized in Java, on one worker with a per-call timeout set (so the timeout watchdog
 * runs for every call). Worker RSS and Java heap (after GC) must end within 10% of where
 * they were after the warm-up, and the handle table at its starting size.
 *
 * <p>It takes several minutes, so it runs only when asked:
 * {@code mvn -B -o test -Dtest=SoakTest -Dlens4j.soak=true} (or {@code LENS4J_SOAK=1});
 * the sizes can be changed with {@code -Dlens4j.soak.calls=} and {@code -Dlens4j.soak.runs=}.
 * The numbers go to stdout and to target/soak-report.txt.
 */
@Tag("soak")
@EnabledIf("enabled")
class SoakTest {
    static final String PROMPT = "When John and Mary went to the shops, John gave the bag to";

    static boolean enabled() {
        return Boolean.getBoolean("lens4j.soak") || "1".equals(System.getenv("LENS4J_SOAK"));
    }

    private final List<String> report = new ArrayList<>();

    private void note(String line) {
        System.out.println("SOAK " + line);
        report.add(line);
    }

    private static long heapAfterGc() throws InterruptedException {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return memory.getHeapMemoryUsage().getUsed();
    }

    @Test
    void smallCallsAndRunsWithCacheLeaveMemoryAndHandlesFlat() throws Exception {
        int calls = Integer.getInteger("lens4j.soak.calls", 100_000);
        int runs = Integer.getInteger("lens4j.soak.runs", 1_000);
        try (Lens lens = Lens.start(Faults.options().withCallTimeout(Duration.ofMinutes(10)))) {
            long pid = Faults.worker(lens).pid();
            LensAccess.ops(lens).registerNamed("soak-echo", (args, blobs) -> args.get("v").asInt());
            Model model = Faults.tiny(lens);
            Tensor small = lens.tensor(new float[] {1, 2, 3}, 3);
            float[] expectedLogits;
            try (Tensor logits = model.logits(PROMPT)) {
                expectedLogits = logits.toFloatArray();
            }
            // Warm-up: every code path once, so that caches and pools are at their working size.
            for (int i = 0; i < 2_000; i++) {
                smallCall(lens, small, i);
            }
            for (int i = 0; i < 50; i++) {
                runAndMaterialize(lens, model, expectedLogits);
            }
            int handles0 = lens.pythonHandleCount();
            long rss0 = Faults.rssKb(pid);
            long heap0 = heapAfterGc();
            note(String.format("start: worker RSS %d kB, Java heap %d kB, handles %d", rss0, heap0 / 1024, handles0));

            long t0 = System.nanoTime();
            for (int i = 0; i < calls; i++) {
                smallCall(lens, small, i);
                if ((i + 1) % 20_000 == 0) {
                    note(String.format("  %,d small calls: worker RSS %d kB", i + 1, Faults.rssKb(pid)));
                }
            }
            double smallSeconds = (System.nanoTime() - t0) / 1e9;
            int handles1 = lens.pythonHandleCount();
            long rss1 = Faults.rssKb(pid);
            long heap1 = heapAfterGc();
            note(String.format("after %,d small calls (%.1f s, %.0f us/call): worker RSS %d kB, Java heap %d kB, handles %d",
                    calls, smallSeconds, smallSeconds * 1e6 / calls, rss1, heap1 / 1024, handles1));

            long t1 = System.nanoTime();
            for (int i = 0; i < runs; i++) {
                runAndMaterialize(lens, model, expectedLogits);
                if ((i + 1) % 200 == 0) {
                    note(String.format("  %,d runs with cache: worker RSS %d kB", i + 1, Faults.rssKb(pid)));
                }
            }
            double runSeconds = (System.nanoTime() - t1) / 1e9;
            int handles2 = lens.pythonHandleCount();
            long rss2 = Faults.rssKb(pid);
            long heap2 = heapAfterGc();
            note(String.format("after %,d runWithCache + materialization (%.1f s, %.1f ms/run): worker RSS %d kB, Java heap %d kB, handles %d",
                    runs, runSeconds, runSeconds * 1e3 / runs, rss2, heap2 / 1024, handles2));
            note(String.format("growth: worker RSS %+.1f%%, Java heap %+.1f%%", 100.0 * (rss2 - rss0) / rss0, 100.0 * (heap2 - heap0) / heap0));
            write();

            assertEquals(handles0, handles1, "handles leaked by the small calls");
            assertEquals(handles0, handles2, "handles leaked by the runs");
            assertTrue(rss2 <= rss0 * 1.10, "worker RSS grew from " + rss0 + " kB to " + rss2 + " kB");
            assertTrue(heap2 <= heap0 * 1.10, "Java heap grew from " + heap0 + " to " + heap2 + " bytes");
            small.close();
        }
    }

    /** One of four small calls, each checking its answer. */
    private static void smallCall(Lens lens, Tensor small, int i) {
        switch (i % 4) {
            case 0 -> assertEquals(i, LensAccess.ops(lens).call("bridge.echo", Map.of("value", i)).value().get("value").asInt());
            case 1 -> {
                try (Tensor s = small.sum()) {
                    if (i % 1000 == 1) {
                        assertEquals(6.0, s.item());
                    }
                }
            }
            case 2 -> {
                try (Tensor t = lens.tensor(new float[] {i, 1}, 2)) {
                    assertEquals(i, t.toFloatArray()[0], 0);
                }
            }
            default -> assertEquals(i % 7, LensAccess.ops(lens).call("bridge.callback", Map.of("name", "soak-echo", "args", Map.of("v", i % 7)))
                    .value().get(0).asInt());
        }
    }

    private static void runAndMaterialize(Lens lens, Model model, float[] expectedLogits) {
        try (Scope scope = lens.scope()) {
            Run run = model.runWithCache(PROMPT, Names.all());
            assertArrayEquals(expectedLogits, run.logits().toFloatArray(), "a run gave other logits");
            ActivationCache cache = run.cache();
            long total = cache.get("pattern", 1).toFloatArray().length;
            for (String key : cache.keys().subList(0, Math.min(5, cache.keys().size()))) {
                total += cache.get(key).toFloatArray().length;
            }
            assertTrue(total > 0);
        }
    }

    private void write() throws IOException {
        Path out = Path.of("target", "soak-report.txt");
        Files.createDirectories(out.getParent());
        Files.write(out, report);
    }
}
