package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Scope;
import org.lens4j.TestLens;
import org.lens4j.engine.Json;
import org.lens4j.hook.Backward;
import org.lens4j.hook.GradientRun;
import org.lens4j.viz.Html;

/** Java's patching sweeps equal transformer_lens.patching's, computed in a separate Python process. */
class PatchingTest {
    static final String CLEAN = TestLens.PROMPT;
    static final String CORRUPTED = "When John and Mary went to the shops, Mary gave the bag to";
    private static Path ref;

    @BeforeAll
    static void reference() throws Exception {
        ref = TestLens.reference("reference_patching.py",
                List.of(TestLens.tinyModelDir().toString(), "$OUT", CLEAN, CORRUPTED, " Mary", " John"));
    }

    private static double[][] expected(String name) throws Exception {
        return Json.MAPPER.readValue(Files.readString(ref.resolve(name + ".json")), double[][].class);
    }

    private static void assertGridsClose(double[][] want, double[][] got) {
        assertEquals(want.length, got.length);
        double max = 0;
        for (int r = 0; r < want.length; r++) {
            assertEquals(want[r].length, got[r].length);
            for (int c = 0; c < want[r].length; c++) {
                max = Math.max(max, Math.abs(want[r][c] - got[r][c]));
            }
        }
        assertTrue(max <= 1e-4, "max abs diff " + max);
    }

    @Test
    void residPreAndHeadSweepsMatchTransformerLens() throws Exception {
        Model model = TestLens.tiny();
        Metric metric = Metrics.logitDiff(" Mary", " John");
        List<Long> events = new ArrayList<>();
        Patching.Result resid = Patching.sweep(model, CLEAN, CORRUPTED, metric, Patching.Kind.RESID_PRE, (d, t, m) -> events.add(d));
        assertEquals(List.of("layer", "pos"), resid.axes());
        assertGridsClose(expected("resid_pre"), resid.grid());
        assertTrue(!events.isEmpty(), "progress events");
        assertEquals(15, resid.tokens().get(0).size());
        Patching.Result heads = Patching.sweep(model, CLEAN, CORRUPTED, metric, Patching.Kind.ATTN_HEAD_OUT_ALL_POS);
        assertGridsClose(expected("attn_head_out_all_pos"), heads.grid());
        assertEquals(heads.grid()[1][2], heads.at(1, 2));

        Patching.Result back = Json.MAPPER.readValue(Json.MAPPER.writeValueAsString(resid), Patching.Result.class);
        assertGridsClose(resid.grid(), back.grid());
        Html figure = resid.figure(model.lens());
        assertTrue(figure.html().contains("token_index"));
    }

    @Test
    void everySweepsAndPathPatchingRunFromJava() {
        Model model = TestLens.tiny();
        Lens lens = model.lens();
        Metric metric = Metrics.logitDiff(" Mary", " John");
        Patching.Result every = Patching.sweep(model, CLEAN, CORRUPTED, metric, Patching.Kind.BLOCK_EVERY);
        assertEquals(List.of("resid_pre", "attn_out", "mlp_out"), every.patchTypes());
        assertEquals(3, every.figures(lens).size());
        PathPatching.Result path = PathPatching.run(model, CLEAN, CORRUPTED, metric, PathPatching.Receivers.finalResidual());
        assertEquals(2, path.values().length);
        assertEquals(4, path.values()[0].length);
        assertEquals(3, path.top(3).size());
        PathPatching.Result toV = PathPatching.run(model, CLEAN, CORRUPTED, metric, PathPatching.Receivers.heads("v", new Head(1, 0)));
        assertTrue(Double.isFinite(toV.values()[0][0]));
        assertTrue(path.figure(lens).html().contains("plotly"));
    }

    /**
     * Attribution patching equals the recipe of docs/hooks.md done by hand in Java: the clean
     * cache, a gradient run of the corrupted prompt (TransformerLens backward hooks), and
     * (clean - corrupted) x gradient summed per cell, plus the corrupted metric.
     */
    @Test
    void attributionEqualsTheGradientRecipeByHand() {
        Model model = TestLens.tiny();
        Lens lens = model.lens();
        Metric metric = Metrics.logitDiff(" Mary", " John");
        Patching.Result heads = Patching.attribution(model, CLEAN, CORRUPTED, metric, Patching.Kind.ATTN_HEAD_OUT_ALL_POS);
        Patching.Result resid = Patching.attribution(model, CLEAN, CORRUPTED, metric, Patching.Kind.RESID_PRE);
        Patching.Result exact = Patching.sweep(model, CLEAN, CORRUPTED, metric, Patching.Kind.ATTN_HEAD_OUT_ALL_POS);
        assertEquals("attribution", heads.method());
        assertEquals(exact.axes(), heads.axes());
        assertEquals(exact.corruptedValue(), heads.corruptedValue(), 1e-5);
        assertEquals(exact.cleanValue(), heads.cleanValue(), 1e-5);
        int layers = model.cfg().nLayers();
        try (Scope scope = lens.scope()) {
            var clean = model.runWithCache(CLEAN, Names.only("z", "resid_pre")).cache();
            GradientRun corrupt = model.runWithGradients(CORRUPTED, Names.only("z", "resid_pre"),
                    Backward.logitDiff(model.toSingleToken(" Mary"), model.toSingleToken(" John")));
            double base = corrupt.metric();
            assertEquals(base, heads.corruptedValue(), 1e-5);
            double moved = 0;
            for (int layer = 0; layer < layers; layer++) {
                String z = "blocks." + layer + ".attn.hook_z";
                double[] perHead = clean.get(z).sub(corrupt.cache().get(z)).mul(corrupt.grad(z)).sum(0, 1, 3).toDoubleArray();
                for (int head = 0; head < perHead.length; head++) {
                    assertEquals(base + perHead[head], heads.at(layer, head), 1e-5, "layer " + layer + " head " + head);
                    moved = Math.max(moved, Math.abs(perHead[head]));
                }
                String r = "blocks." + layer + ".hook_resid_pre";
                double[] perPos = clean.get(r).sub(corrupt.cache().get(r)).mul(corrupt.grad(r)).sum(0, 2).toDoubleArray();
                for (int pos = 0; pos < perPos.length; pos++) {
                    assertEquals(base + perPos[pos], resid.at(layer, pos), 1e-5, "layer " + layer + " pos " + pos);
                }
            }
            assertTrue(moved > 1e-3, "the estimates move the metric, so a wrong cell would show: " + moved);
        }
        assertTrue(heads.figure(lens).html().contains("Attribution patching"));
        InvalidInputException lambda = assertThrows(InvalidInputException.class, () -> Patching.attribution(model, CLEAN, CORRUPTED,
                Metrics.custom("last logit", logits -> 0.0), Patching.Kind.RESID_PRE));
        assertTrue(lambda.getMessage().contains("differentiable"), lambda.getMessage());
    }

    @Test
    void badInputIsAClearError() {
        Model model = TestLens.tiny();
        Metric metric = Metrics.logitDiff(" Mary", " John");
        InvalidInputException lengths = assertThrows(InvalidInputException.class,
                () -> Patching.sweep(model, CLEAN, "When John went", metric, Patching.Kind.RESID_PRE));
        assertTrue(lengths.getMessage().toLowerCase().contains("length") || lengths.getMessage().contains("shape"), lengths.getMessage());
        assertThrows(InvalidInputException.class, () -> PathPatching.run(model, CLEAN, CORRUPTED, metric,
                PathPatching.Receivers.heads("v", new Head(1, 9))));
        assertEquals(List.of("When", " John"), model.toStrTokens("When John").subList(1, 3));
    }
}
