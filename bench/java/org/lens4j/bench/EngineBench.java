package org.lens4j.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.lens4j.Blob;
import org.lens4j.EngineOptions;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.Engine;
import org.lens4j.engine.Json;
import org.lens4j.engine.graalpy.GraalPyEngine;
import org.lens4j.engine.graalpy.GraalPySettings;
import org.lens4j.engine.worker.WorkerEngine;

/**
 * The two engines side by side on the torch-free ops: start time, call overhead (the median
 * {@code bridge.echo} round trip) and buffer transfer ({@code bridge.make_blob} of 64 MiB into a
 * Java {@code float[]}). Prints a JSON object and writes {@code engines.json}. Not a test.
 *
 * <pre>
 * mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java --enable-native-access=ALL-UNNAMED -cp target/classes:target/test-classes:$(cat target/cp.txt) \
 *     org.lens4j.bench.EngineBench target/bench                 # GraalPy interpreted (the class path)
 * </pre>
 *
 * For GraalPy compiled by the Graal JIT, run the same class with the polyglot jars on the module
 * path and the compiler on the upgrade module path, as docs/ENGINES.md shows.
 */
public final class EngineBench {
    static final int ECHO_CALLS_WORKER = 5_000;
    static final int ECHO_CALLS_GRAALPY = 2_000;
    static final int BLOB_MIB = 64;
    static final int BLOB_ROUNDS = 5;

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args.length > 0 ? args[0] : "target/bench");
        String only = args.length > 1 ? args[1] : "both";
        EngineOptions options = EngineOptions.defaults().withDevice("cpu");
        Path source = Path.of("python").toAbsolutePath();
        if (Files.isRegularFile(source.resolve("lens4j_bridge").resolve("graalpy_entry.py"))) {
            options = options.withBridgeDir(source);
        }
        EngineOptions opts = options;
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("machine", Map.of("cores", Runtime.getRuntime().availableProcessors(),
                "load_average_at_start", java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(),
                "jvm", System.getProperty("java.vm.name") + " " + System.getProperty("java.version")));
        if (!only.equals("graalpy")) {
            results.put("worker", measure(() -> WorkerEngine.start(opts, CallbackHandler.NONE), ECHO_CALLS_WORKER, null));
        }
        if (!only.equals("worker")) {
            // The first context also builds the shared polyglot engine; the second shows a context on a warm engine.
            results.put("graalpy", measure(() -> GraalPyEngine.start(opts, CallbackHandler.NONE, GraalPySettings.none()),
                    ECHO_CALLS_GRAALPY, () -> GraalPyEngine.start(opts, CallbackHandler.NONE, GraalPySettings.none())));
        }
        String json = Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(results);
        System.out.println(json);
        Files.createDirectories(out);
        Files.writeString(out.resolve("engines.json"), json);
        System.exit(0);
    }

    static Map<String, Object> measure(Supplier<Engine> starter, int echoCalls, Supplier<Engine> secondStarter) {
        Map<String, Object> row = new LinkedHashMap<>();
        long t0 = System.nanoTime();
        try (Engine engine = starter.get()) {
            row.put("start_s", (System.nanoTime() - t0) / 1e9);
            row.put("describe", engine.describe());
            long first = System.nanoTime();
            engine.call("bridge.echo", Map.of("value", 0), List.of(), null);
            row.put("first_call_ms", (System.nanoTime() - first) / 1e6);
            row.put("echo_ms", echo(engine, echoCalls));
            row.put("make_blob_64mib_to_float_array", transfer(engine));
            row.put("echo_64mib_blob_both_ways", roundTrip(engine));
        }
        if (secondStarter != null) {
            long t1 = System.nanoTime();
            try (Engine second = secondStarter.get()) {
                second.call("bridge.echo", Map.of("value", 0), List.of(), null);
                row.put("second_context_start_s", (System.nanoTime() - t1) / 1e9);
            }
        }
        return row;
    }

    static Map<String, Object> echo(Engine engine, int n) {
        Map<String, Object> value = Map.of("layer", 3, "names", List.of("blocks.3.hook_resid_pre"), "scale", 0.5);
        for (int i = 0; i < n / 4; i++) {
            engine.call("bridge.echo", Map.of("value", value), List.of(), null);
        }
        double[] ms = new double[n];
        for (int i = 0; i < n; i++) {
            long t = System.nanoTime();
            engine.call("bridge.echo", Map.of("value", value), List.of(), null);
            ms[i] = (System.nanoTime() - t) / 1e6;
        }
        Arrays.sort(ms);
        return Map.of("calls", n, "median", ms[n / 2], "p90", ms[(int) (n * 0.9)], "p99", ms[(int) (n * 0.99)]);
    }

    /** make_blob of 64 MiB float32, then into a float[]: the path every toFloatArray takes. */
    static Map<String, Object> transfer(Engine engine) {
        int n = BLOB_MIB << 18;
        List<Double> seconds = new ArrayList<>();
        float[] sink = new float[n];
        for (int round = 0; round < BLOB_ROUNDS + 1; round++) {
            long t = System.nanoTime();
            Blob blob = engine.call("bridge.make_blob", Map.of("dtype", "float32", "shape", List.of(n), "fill", 0x3F),
                    List.of(), null).blobs().get(0);
            blob.data().asFloatBuffer().get(sink);
            if (round > 0) { // the first round warms up
                seconds.add((System.nanoTime() - t) / 1e9);
            }
        }
        if (sink[n - 1] != Float.intBitsToFloat(0x3F3F3F3F)) {
            throw new AssertionError("transfer corrupted the data: " + sink[n - 1]);
        }
        seconds.sort(null);
        double median = seconds.get(seconds.size() / 2);
        return Map.of("rounds", BLOB_ROUNDS, "median_s", median, "gb_per_s", (BLOB_MIB << 20) / median / 1e9,
                "note", "includes making the blob in Python (bytes * n) and the copy into float[]");
    }

    /** A 64 MiB Java blob to Python and back (bridge.echo): both directions of the buffer path, no Python-side making. */
    static Map<String, Object> roundTrip(Engine engine) {
        int nbytes = BLOB_MIB << 20;
        java.nio.ByteBuffer data = java.nio.ByteBuffer.allocate(nbytes);
        data.put(nbytes - 1, (byte) 9);
        Blob sent = new Blob("uint8", new long[] {nbytes}, data);
        List<Double> seconds = new ArrayList<>();
        for (int round = 0; round < BLOB_ROUNDS + 1; round++) {
            long t = System.nanoTime();
            Blob back = engine.call("bridge.echo", Map.of("blobs", List.of(Map.of("$blob", 0))), List.of(sent), null).blobs().get(0);
            byte[] copy = new byte[nbytes];
            back.data().get(copy);
            if (copy[nbytes - 1] != 9) {
                throw new AssertionError("round trip corrupted the data");
            }
            if (round > 0) {
                seconds.add((System.nanoTime() - t) / 1e9);
            }
        }
        seconds.sort(null);
        double median = seconds.get(seconds.size() / 2);
        return Map.of("rounds", BLOB_ROUNDS, "median_s", median, "gb_per_s_moved", 2.0 * nbytes / median / 1e9);
    }
}
