package org.lens4j.engine.embedded;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.EngineOptions;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Run;
import org.lens4j.Scope;
import org.lens4j.Tensor;
import org.lens4j.analysis.LogitLens;
import org.lens4j.hook.Hook;

/**
 * The same calls on the worker and on the embedded engine, side by side in one JVM, give the same
 * numbers: a run with cache, Java lambda hooks that read, replace and call again from inside, and
 * an analysis (the logit lens). Both engines run the same torch on the same CPU, so the tolerance
 * is 1e-6 (absolute, on logits of magnitude ~10): any difference would be lens4j's, not torch's.
 */
class EmbeddedParityTest {
    static final String PROMPT = "When John and Mary went to the shops, John gave the bag to";
    private static Lens worker;
    private static Lens embedded;

    @BeforeAll
    static void start() {
        EmbeddedEngineTest.requireEmbeddedPass();
        EngineOptions options = EngineOptions.defaults().withDevice("cpu");
        worker = Lens.start(options.withEngine(EngineOptions.Kind.WORKER));
        embedded = Lens.start(options.withEngine(EngineOptions.Kind.EMBEDDED));
        assertTrue(embedded.toString().contains("embedded engine"), embedded.toString());
        assertTrue(worker.toString().contains("worker engine"), worker.toString());
    }

    @AfterAll
    static void stop() {
        if (worker != null) {
            worker.close();
        }
        if (embedded != null) {
            embedded.close();
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-6, what + " at " + i);
        }
    }

    /** What one engine computes: logits, two cached activations, and the lambda hook's nested-call results. */
    private static List<float[]> compute(Lens lens) {
        List<float[]> out = new ArrayList<>();
        try (Scope scope = lens.scope()) {
            Model model = lens.load("toy-ioi");
            try (Run run = model.runWithCache(PROMPT, Names.only("resid_pre", "pattern"))) {
                out.add(run.logits().toFloatArray());
                out.add(run.cache().get("resid_pre", 1).toFloatArray());
                out.add(run.cache().get("pattern", 0).toFloatArray());
            }
            List<float[]> nested = new ArrayList<>();
            float[] halved = new float[1];
            Tensor logits = model.runWithHooks(PROMPT,
                    Hook.at("blocks.0.hook_resid_pre").java((act, hook) -> {
                        // a call from inside the hook: on the embedded engine it runs inline on the Python thread
                        nested.add(act.softmax(-1).toFloatArray());
                        return null;
                    }),
                    Hook.at("blocks.1.hook_resid_pre").java((act, hook) -> {
                        float[] v = act.toFloatArray();
                        for (int i = 0; i < v.length; i++) {
                            v[i] *= 0.5f;
                        }
                        halved[0] = v[0];
                        return lens.tensor(v, act.shape());
                    }));
            out.add(logits.toFloatArray());
            out.add(nested.get(0));
            out.add(halved);
            model.close();
        }
        return out;
    }

    @Test
    void runWithCacheAndJavaLambdaHooksWithNestedCallsGiveTheWorkersNumbers() {
        List<float[]> w = compute(worker);
        List<float[]> e = compute(embedded);
        String[] what = {"logits", "resid_pre 1", "pattern 0", "hooked logits", "softmax made inside the hook", "halved value"};
        for (int i = 0; i < what.length; i++) {
            assertClose(w.get(i), e.get(i), what[i]);
        }
    }

    @Test
    void theLogitLensGivesTheWorkersTopTokens() {
        LogitLens.Result[] results = new LogitLens.Result[2];
        Lens[] lenses = {worker, embedded};
        for (int k = 0; k < 2; k++) {
            try (Scope scope = lenses[k].scope()) {
                Model model = lenses[k].load("toy-ioi");
                results[k] = LogitLens.run(model, PROMPT, LogitLens.Options.defaults());
                model.close();
            }
        }
        assertEquals(results[0].labels(), results[1].labels());
        for (int p = 0; p < results[0].topTokenIds().length; p++) {
            for (int r = 0; r < results[0].topTokenIds()[p].length; r++) {
                for (int q = 0; q < results[0].topTokenIds()[p][r].length; q++) {
                    assertArrayEquals(results[0].topTokenIds()[p][r][q], results[1].topTokenIds()[p][r][q]);
                    assertArrayEquals(results[0].topProbs()[p][r][q], results[1].topProbs()[p][r][q], 1e-6);
                }
            }
        }
    }
}
