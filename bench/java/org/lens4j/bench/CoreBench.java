package org.lens4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.lens4j.EngineOptions;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Run;
import org.lens4j.Tensor;
import org.lens4j.engine.Json;
import org.lens4j.engine.worker.PythonEnv;
import org.lens4j.internal.LensAccess;

/**
 * The bridge core's numbers: call round trip, materialization throughput against a plain
 * copy in the same JVM, and runWithCache from Java against the same call made natively in
 * Python, in one run. Prints a JSON object; {@code ./lens4j bench} records it.
 *
 * <pre>
 * ./lens4j bench core
 * </pre>
 */
public final class CoreBench {
    public static void main(String[] args) throws Exception {
        Path out = Path.of(args.length > 0 ? args[0] : "target/bench");
        Map<String, Object> results = new java.util.LinkedHashMap<>();
        try (Lens lens = Lens.start(org.lens4j.EngineOptions.defaults().withDevice("cpu"))) {
            results.put("round_trip_ms", roundTrip(lens));
            results.put("materialize", materialize(lens));
            results.put("run_with_cache", runWithCache(lens, out));
        }
        String json = Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(results);
        System.out.println(json);
        java.nio.file.Files.createDirectories(out);
        java.nio.file.Files.writeString(out.resolve("core.json"), json);
    }

    static Map<String, Object> roundTrip(Lens lens) {
        for (int i = 0; i < 2000; i++) {
            LensAccess.ops(lens).call("bridge.echo", Map.of("value", i));
        }
        int n = 20_000;
        double[] ms = new double[n];
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            LensAccess.ops(lens).call("bridge.echo", Map.of("value", i));
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        return Map.of("calls", n, "median", ms[n / 2], "p90", ms[(int) (n * 0.9)], "p99", ms[(int) (n * 0.99)]);
    }

    static List<Map<String, Object>> materialize(Lens lens) {
        return materialize(lens, new int[] {1, 64, 512});
    }

    static List<Map<String, Object>> materialize(Lens lens, int[] sizesMib) {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int mib : sizesMib) {
            int n = mib << 18; // float32 elements in mib MiB
            float[] data = new float[n];
            for (int i = 0; i < n; i += 1024) {
                data[i] = i;
            }
            try (Tensor t = lens.tensor(data, n)) {
                int repeats = mib >= 512 ? 3 : mib >= 64 ? 8 : 50;
                float[] into = new float[n];
                t.toFloatArray(into); // warm-up: grows and maps the arena, JITs the copy
                double[] fresh = new double[repeats];
                double[] reused = new double[repeats];
                double[] copy = new double[repeats];
                for (int r = 0; r < repeats; r++) {
                    long t0 = System.nanoTime();
                    float[] back = t.toFloatArray(); // a new array each time: allocation and page faults included
                    fresh[r] = (System.nanoTime() - t0) / 1e9;
                    long t1 = System.nanoTime();
                    t.toFloatArray(into); // into an array the caller keeps
                    reused[r] = (System.nanoTime() - t1) / 1e9;
                    long t2 = System.nanoTime();
                    System.arraycopy(data, 0, into, 0, n); // the same bytes copied inside the JVM
                    copy[r] = (System.nanoTime() - t2) / 1e9;
                    if (back[1024] != data[1024]) {
                        throw new AssertionError("wrong data");
                    }
                }
                double bytes = (double) mib * (1 << 20);
                rows.add(Map.of("mib", mib, "repeats", repeats,
                        "new_array_gb_s_median", bytes / median(fresh) / 1e9,
                        "reused_array_gb_s_median", bytes / median(reused) / 1e9,
                        "memcpy_gb_s_median", bytes / median(copy) / 1e9));
            }
            System.gc();
        }
        return rows;
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    static Map<String, Object> runWithCache(Lens lens, Path out) throws Exception {
        Path dir = out.resolve("models/bench-12l-768").toAbsolutePath();
        LensAccess.ops(lens).call("model.make_tiny", Map.of("out_dir", dir.toString(), "n_layers", 12, "d_model", 768, "n_heads", 12));
        int batch = 8;
        int seq = 16;
        int repeats = 15;
        Model model = lens.load(dir);
        long[] ids = new long[batch * seq];
        java.util.Random random = new java.util.Random(0);
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 1 + random.nextInt(model.cfg().dVocab() - 1);
        }
        Tensor tokens = lens.tensor(ids, batch, seq);
        for (int i = 0; i < 2; i++) {
            model.runWithCache(tokens).close();
        }
        // alternate Java and native runs so that both see the same machine load
        double[] java = new double[repeats];
        List<Double> nativeMedians = new ArrayList<>();
        Path python = PythonEnv.ensure(lens.options().home(), lens.options().python(), s -> { }).python();
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < repeats / 3; i++) {
                long t0 = System.nanoTime();
                try (Run run = model.runWithCache(tokens)) {
                    java[round * (repeats / 3) + i] = (System.nanoTime() - t0) / 1e9;
                }
            }
            Process p = new ProcessBuilder(python.toString(), "bench/core_native.py", dir.toString(), "" + batch, "" + seq,
                    "" + repeats / 3).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String line = new String(p.getInputStream().readAllBytes()).trim();
            p.waitFor();
            JsonNode node = Json.MAPPER.readTree(line.substring(line.lastIndexOf('\n') + 1));
            nativeMedians.add(node.get("run_with_cache_median_s").asDouble());
        }
        Arrays.sort(java);
        double javaMedian = java[repeats / 2];
        double nativeMedian = nativeMedians.stream().sorted().toList().get(1);
        return Map.of("model", "12 layers, d_model 768, 12 heads (random init)", "batch", batch, "seq", seq,
                "java_median_s", javaMedian, "python_median_s", nativeMedian, "ratio_java_over_python", javaMedian / nativeMedian);
    }
}
