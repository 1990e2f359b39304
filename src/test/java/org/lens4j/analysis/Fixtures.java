package org.lens4j.analysis;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.TestLens;
import org.lens4j.engine.Json;

/**
 * What the analysis tests share: the one worker and tiny model of {@link TestLens}, and the reference numbers that
 * python/tests/reference_analysis.py computes with TransformerLens in its own process. The
 * reference runs once per model and script version (kept under target/analysis-reference)
 * and starts in the background while the worker warms up.
 */
final class Fixtures {
    /** fp32 values and single activations. */
    static final double TOL = 1e-5;
    /** sums over many terms and normalized sweeps. */
    static final double SUM_TOL = 1e-4;

    private static CompletableFuture<Reference> reference;

    private Fixtures() {
    }

    static Lens lens() {
        return TestLens.lens();
    }

    /** The shared tiny model (2 layers, 4 heads, d_model 64); tests must not close it. */
    static Model tiny() {
        Model m = TestLens.tiny();
        startReference();
        return m;
    }

    /** The reference numbers (waits for the script the first time). */
    static Reference ref() {
        tiny();
        return reference.join();
    }

    private static synchronized void startReference() {
        if (reference == null) {
            Path modelDir = TestLens.tinyModelDir();
            Path python = TestLens.venvPython();
            reference = CompletableFuture.supplyAsync(() -> computeReference(python, modelDir));
        }
    }

    private static Reference computeReference(Path python, Path modelDir) {
        try {
            Path script = Path.of("python/tests/reference_analysis.py").toAbsolutePath();
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(Files.readAllBytes(script));
            sha.update(Files.readAllBytes(modelDir.resolve("lens4j-tiny.json")));
            Path out = Path.of("target", "analysis-reference", HexFormat.of().formatHex(sha.digest()).substring(0, 16)).toAbsolutePath();
            if (!Files.isRegularFile(out.resolve("ref.json"))) {
                Path tmp = Files.createTempDirectory(out.getParent() == null ? Path.of(".") : Files.createDirectories(out.getParent()), "tmp-");
                ProcessBuilder pb = new ProcessBuilder(python.toString(), script.toString(), modelDir.toString(), tmp.toString())
                        .redirectErrorStream(true);
                pb.environment().put("OMP_NUM_THREADS", "1");
                Process p = pb.start();
                String output = new String(p.getInputStream().readAllBytes());
                if (!p.waitFor(600, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    throw new IllegalStateException("reference_analysis.py failed:\n" + output);
                }
                try {
                    Files.move(tmp, out);
                } catch (IOException e) {
                    if (!Files.isRegularFile(out.resolve("ref.json"))) {
                        throw e;
                    }
                }
            }
            return new Reference(Json.MAPPER.readTree(out.resolve("ref.json").toFile()), out);
        } catch (Exception e) {
            throw new IllegalStateException("cannot compute the TransformerLens reference: " + e.getMessage(), e);
        }
    }

    /** The reference's output: ref.json and the .f32 stacks beside it. */
    record Reference(JsonNode json, Path dir) {
        JsonNode get(String path) {
            JsonNode n = json.at(path);
            if (n.isMissingNode()) {
                throw new IllegalStateException("the reference has no " + path);
            }
            return n;
        }

        List<String> inputs(String key) {
            return strings(get("/inputs/" + key));
        }

        float[] f32(String name) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(dir.resolve(name + ".f32"))).order(ByteOrder.LITTLE_ENDIAN);
            float[] out = new float[b.remaining() / 4];
            b.asFloatBuffer().get(out);
            return out;
        }
    }

    // -- inputs ---------------------------------------------------------------------------

    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    static List<AnswerPair> answers(Reference ref) {
        List<AnswerPair> out = new ArrayList<>();
        ref.get("/inputs/answers").forEach(p -> out.add(AnswerPair.of(p.get(0).asText(), p.get(1).asText())));
        return out;
    }

    // -- comparisons ----------------------------------------------------------------------

    static double[] doubles(JsonNode array) {
        List<Double> out = new ArrayList<>();
        flatten(array, out);
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static void flatten(JsonNode n, List<Double> out) {
        if (n.isArray()) {
            n.forEach(c -> flatten(c, out));
        } else {
            out.add(n.isTextual() ? Double.parseDouble(n.asText()) : n.asDouble());
        }
    }

    static double[] flat(Object nested) {
        List<Double> out = new ArrayList<>();
        flattenArray(nested, out);
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static void flattenArray(Object o, List<Double> out) {
        if (o instanceof double[] d) {
            for (double x : d) {
                out.add(x);
            }
        } else if (o instanceof long[] l) {
            for (long x : l) {
                out.add((double) x);
            }
        } else if (o instanceof int[] l) {
            for (int x : l) {
                out.add((double) x);
            }
        } else if (o instanceof float[] f) {
            for (float x : f) {
                out.add((double) x);
            }
        } else if (o instanceof Object[] arr) {
            for (Object x : arr) {
                flattenArray(x, out);
            }
        } else {
            throw new IllegalArgumentException("not an array: " + o);
        }
    }

    /** Max |a - b| over all entries, after checking that both hold the same number of them. */
    static double maxDiff(Object actual, Object expected) {
        double[] a = actual instanceof JsonNode j ? doubles(j) : flat(actual);
        double[] b = expected instanceof JsonNode j ? doubles(j) : flat(expected);
        assertEquals(b.length, a.length, "number of values");
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            if (Double.isNaN(a[i]) != Double.isNaN(b[i])) {
                return Double.POSITIVE_INFINITY;
            }
            if (!Double.isNaN(a[i])) {
                max = Math.max(max, Math.abs(a[i] - b[i]));
            }
        }
        return max;
    }

    static void assertClose(Object actual, Object expected, double tol, String what) {
        double d = maxDiff(actual, expected);
        assertTrue(d <= tol, what + ": max abs diff " + d + " > " + tol);
    }

    static void assertClose(double actual, double expected, double tol, String what) {
        assertTrue(Math.abs(actual - expected) <= tol, what + ": " + actual + " vs " + expected + " (tolerance " + tol + ")");
    }

    /** The record written as JSON, read back and written again gives the same JSON; returns the copy. */
    static <T> T assertJsonRoundTrip(T result) {
        @SuppressWarnings("unchecked")
        Class<T> type = (Class<T>) result.getClass();
        String json = AnalysisJson.toJson(result);
        T copy = AnalysisJson.fromJson(json, type);
        assertEquals(json, AnalysisJson.toJson(copy), "JSON round trip of " + type.getSimpleName());
        return copy;
    }

    /** The worker still answers after a bad call. */
    static void assertWorkerAnswers() {
        assertTrue(lens().isAlive(), "the worker died");
        JsonNode v = LensAccess.ops(lens()).call("bridge.echo", Map.of("value", 7)).value();
        assertEquals(7, v.path("value").asInt(v.asInt()), "the worker answers");
    }
}
