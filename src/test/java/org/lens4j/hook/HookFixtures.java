package org.lens4j.hook;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.lens4j.EngineOptions;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Tensor;
import org.lens4j.TestLens;
import org.lens4j.engine.Json;
import org.lens4j.engine.worker.PythonEnv;

/**
 * The shared worker and tiny model of the test run ({@link TestLens}), and the reference values that
 * python/tests/reference_hooks.py computes with hand-written TransformerLens hooks in a
 * separate process, started once per JVM and in the background.
 */
final class HookFixtures {
    static final double TOL = 1e-5;
    static final List<String> PROMPTS = List.of("When John and Mary went to the shops, John gave the bag to",
            "When Tom and James went to the park, James gave the ball to");
    static final String CLEAN = "When John and Mary went to the shops, John gave the bag to";
    static final String CORRUPT = "When John and Mary went to the shops, Mary gave the bag to";
    static final String GEN_PROMPT = "When John and Mary went";
    static final List<String> GRAD_NAMES = List.of("blocks.0.hook_resid_pre", "blocks.1.attn.hook_z", "blocks.1.attn.hook_pattern",
            "blocks.1.hook_mlp_out");

    private static Process referenceProcess;
    private static Path referenceDir;
    private static JsonNode index;

    private HookFixtures() {
    }

    static Lens lens() {
        return TestLens.lens();
    }

    /** The shared 2-layer, 4-head, d_model 64 model; tests must not close it and must leave no hooks on it. */
    static Model tiny() {
        return TestLens.tiny();
    }

    /**
     * Start the reference process if it is not running yet. It builds its own copy of the tiny
     * model (deterministic; every test compares the plain logits too), so it runs while the
     * worker starts: it takes ~30 s on a loaded machine.
     */
    static synchronized void startReference() {
        if (referenceProcess != null) {
            return;
        }
        try {
            Path out = Files.createTempDirectory("lens4j-hooks-ref-");
            EngineOptions options = EngineOptions.defaults();
            Path python = PythonEnv.ensure(options.home(), options.python(), line -> { }).python();
            referenceProcess = new ProcessBuilder(python.toString(), "python/tests/reference_hooks.py", out.toString())
                    .redirectErrorStream(true).redirectOutput(out.resolve("log.txt").toFile()).start();
            referenceDir = out;
        } catch (IOException e) {
            throw new IllegalStateException("could not start reference_hooks.py", e);
        }
    }

    private static synchronized Path referenceDir() {
        startReference();
        if (index == null) {
            try {
                if (!referenceProcess.waitFor(400, TimeUnit.SECONDS) || referenceProcess.exitValue() != 0) {
                    throw new IllegalStateException("reference_hooks.py failed:\n" + Files.readString(referenceDir.resolve("log.txt")));
                }
                index = Json.MAPPER.readTree(Files.readString(referenceDir.resolve("index.json")));
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException("reference_hooks.py did not finish", e);
            }
        }
        return referenceDir;
    }

    /** A reference tensor's values, float32 in C order. */
    static float[] ref(String name) {
        Path dir = referenceDir();
        if (!index.has(name)) {
            throw new IllegalArgumentException("no reference named " + name + "; names: " + index.fieldNames());
        }
        try {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(dir.resolve(name.replace("/", "__") + ".f32"))).order(ByteOrder.LITTLE_ENDIAN);
            float[] out = new float[b.remaining() / 4];
            b.asFloatBuffer().get(out);
            return out;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static long[] refShape(String name) {
        referenceDir();
        return Json.MAPPER.convertValue(index.get(name), long[].class);
    }

    /** A reference input as a tensor in the worker (float32). */
    static Tensor refTensor(String name) {
        return lens().tensor(ref(name), refShape(name));
    }

    /** A reference input of token ids as an int64 tensor. */
    static Tensor refTokens(String name) {
        float[] f = ref(name);
        long[] ids = new long[f.length];
        for (int i = 0; i < f.length; i++) {
            ids[i] = Math.round(f[i]);
        }
        return lens().tensor(ids, refShape(name));
    }

    static long[] refLongs(String name) {
        float[] f = ref(name);
        long[] ids = new long[f.length];
        for (int i = 0; i < f.length; i++) {
            ids[i] = Math.round(f[i]);
        }
        return ids;
    }

    static float maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length, "lengths differ");
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    /** Asserts a tensor equals a reference (shape, and values within TOL); returns the difference. */
    static float assertMatches(String refName, Tensor actual) {
        assertArrayEquals(refShape(refName), actual.shape(), refName + ": shape");
        float d = maxAbsDiff(ref(refName), actual.toFloatArray());
        assertTrue(d <= TOL, refName + " differs from TransformerLens by " + d);
        return d;
    }

    static float[] slice(float[] all, int index, int size) {
        float[] out = new float[size];
        System.arraycopy(all, index * size, out, 0, size);
        return out;
    }

    /** The model carries no hook (checked through hooks.list). */
    static void assertNoHooks(Model model) {
        assertEquals(java.util.Map.of(), model.attachedHooks(), "hooks were left on the model");
    }
}
