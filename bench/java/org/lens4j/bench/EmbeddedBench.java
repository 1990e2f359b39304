package org.lens4j.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.lens4j.EngineOptions;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.Json;
import org.lens4j.engine.embedded.EmbeddedEngine;
import org.lens4j.internal.LensAccess;

/**
 * The embedded engine against the worker in one JVM: engine start to model ready (toy-ioi), the
 * call round trip, and 64 MiB into a kept {@code float[]} against {@code System.arraycopy}, with
 * the worker first and the embedded engine second (CPython starts once per process, so the
 * embedded engine's start is measured once per run). The rest of the embedded engine's numbers
 * come from the other benchmarks run on it: {@code LENS4J_ENGINE=embedded ./lens4j bench CoreBench}
 * (runWithCache against Python, 512 MiB) and {@code LENS4J_ENGINE=embedded ./lens4j bench HooksBench}.
 *
 * <pre>
 * ./lens4j bench EmbeddedBench
 * </pre>
 */
public final class EmbeddedBench {
    public static void main(String[] args) throws Exception {
        Path out = Path.of(args.length > 0 ? args[0] : "target/bench");
        Map<String, Object> results = new LinkedHashMap<>();
        for (EngineOptions.Kind kind : List.of(EngineOptions.Kind.WORKER, EngineOptions.Kind.EMBEDDED)) {
            Map<String, Object> r = new LinkedHashMap<>();
            long t0 = System.nanoTime();
            try (Lens lens = Lens.start(EngineOptions.defaults().withDevice("cpu").withEngine(kind))) {
                double started = (System.nanoTime() - t0) / 1e9;
                Model model = lens.load("toy-ioi");
                model.toTokens("warm");
                r.put("engine", LensAccess.engine(lens).describe());
                r.put("start_s", started);
                r.put("start_to_model_ready_s", (System.nanoTime() - t0) / 1e9);
                r.put("round_trip_ms", CoreBench.roundTrip(lens));
                r.put("materialize", CoreBench.materialize(lens, new int[] {1, 64}));
            }
            results.put(kind.name().toLowerCase(java.util.Locale.ROOT), r);
        }
        results.put("embedded_inline_round_trip_ms", inlineRoundTrip());
        String json = Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(results);
        System.out.println(json);
        Files.createDirectories(out);
        Files.writeString(out.resolve("embedded.json"), json);
    }

    /**
     * {@code bridge.echo} made from inside a Java callback, which runs on the Python thread: the
     * call without the hand-off between threads that a call from any other thread pays.
     */
    static Map<String, Object> inlineRoundTrip() {
        int n = 20_000;
        double[] ms = new double[n];
        EmbeddedEngine[] engine = new EmbeddedEngine[1];
        CallbackHandler loop = (name, args, blobs) -> {
            for (int i = 0; i < n; i++) {
                long t0 = System.nanoTime();
                engine[0].call("bridge.echo", Map.of("value", i), List.of(), null);
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            return null;
        };
        try (EmbeddedEngine e = EmbeddedEngine.start(EngineOptions.defaults().withDevice("cpu"), loop)) {
            engine[0] = e;
            e.call("bridge.callback", Map.of("name", "loop"), List.of(), null); // warm-up
            e.call("bridge.callback", Map.of("name", "loop"), List.of(), null);
        }
        Arrays.sort(ms);
        return Map.of("calls", n, "median", ms[n / 2], "p90", ms[(int) (n * 0.9)], "p99", ms[(int) (n * 0.99)]);
    }
}
