package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.lens4j.ActivationCache;
import org.lens4j.ModelConfig;

/**
 * Every result record written as JSON and read back, with no worker: NaN, nulls, nested
 * arrays and labels survive. (The analysis tests also round-trip the results they compute.)
 */
class JsonRoundTripTest {
    @Test
    void everyResultRecord() {
        double nan = Double.NaN;
        Fixtures.assertJsonRoundTrip(new TestPrompt.Result(List.of("<|endoftext|>", "Hi"), List.of(" Mary"), List.of(List.of(" Mary")),
                List.of(new TestPrompt.Step(1, List.of(5), List.of(" Mary"), List.of(0), List.of(1.5), List.of(0.7),
                        List.of(new TestPrompt.TopToken(5, " Mary", 1.5, 0.7))))));
        LogitLens.Result lens = Fixtures.assertJsonRoundTrip(new LogitLens.Result("ln2_normalized", List.of("0_ln2"), new int[] {0}, new int[] {0, 1},
                List.of(List.of("a", "b")), new long[][][][] {{{{3}, {4}}}}, new String[][][][] {{{{"x"}, {"y"}}}},
                new double[][][][] {{{{0.5}, {0.25}}}}, new double[][][] {{{0.1, 0.2}}}, null, null, null));
        assertNull(lens.targetId());
        assertEquals("y", lens.topTokenGrid(0)[1][0]);
        Fixtures.assertJsonRoundTrip(new DirectLogitAttribution.Attribution("head", List.of("L0H0", "L0H1"), new double[] {1, 2},
                new double[][] {{1}, {2}}, 3, new int[][] {{1, 2}}, 1, 2));
        Fixtures.assertJsonRoundTrip(new HeadDetector.Scores("induction_head", new double[][] {{0.5, -1}}, 1));
        Fixtures.assertJsonRoundTrip(new HeadDetector.RepeatedTokenScores(10, new double[][] {{1}}, new double[][] {{2}}, new double[][] {{3}}));
        Fixtures.assertJsonRoundTrip(new HeadDetector.InductionScores(List.of("q"), new double[][][] {{{0.5}}}, new int[] {0}, new int[] {0},
                new double[] {0.5}, -4, 10));
        Ablation.HeadAblation ab = Fixtures.assertJsonRoundTrip(new Ablation.HeadAblation("zero", new double[][] {{nan, 0.5}}, true,
                new int[] {14}, 1.5, -0.5));
        assertTrue(Double.isNaN(ab.scores()[0][0]));
        Fixtures.assertJsonRoundTrip(new Ablation.Comparison(List.of("resample", "zero"), new double[][][] {{{1}}, {{nan}}}, new int[] {14}, 1,
                0, Map.of("name movers", Map.of("zero", 25))));
        Fixtures.assertJsonRoundTrip(new Ablation.Comparison(List.of("zero"), new double[][][] {{{1}}}, new int[] {14}, 1, 0, null));
        Fixtures.assertJsonRoundTrip(new ActivationDataset("resid_pre", List.of(0, 1), 26, new int[] {5}, new int[] {5},
                new double[][][] {{{1, 2}, {3, 4}}}, new double[][][] {{{0, 0}, {1, 1}}}));
        Fixtures.assertJsonRoundTrip(new SteeringVector("resid_pre", List.of(3), new double[][] {{1, -1}}, new double[] {1.414}));
        Fixtures.assertJsonRoundTrip(new Pca2.Result(List.of(4), new double[][][] {{{1, 0}, {0, 1}}}, new double[][][] {{{1, 2}}},
                new double[][][] {{{3, 4}}}, new double[][] {{0.6, 0.4}}, new double[][] {{0, 0}}, new double[] {1}, new double[] {1}));
        Fixtures.assertJsonRoundTrip(Head.parse("L9H9"));
        Fixtures.assertJsonRoundTrip(AnswerPair.of(" Mary", " John"));
        assertEquals(AnswerPair.of(12, 13), AnalysisJson.fromJson(AnalysisJson.toJson(AnswerPair.of(12, 13)), AnswerPair.class));
        Fixtures.assertJsonRoundTrip(PromptPair.of("a b", "c d"));
    }

    @Test
    void sweepsLensWithTargetAndModelConfig() {
        double nan = Double.NaN;
        Patching.Result every = Fixtures.assertJsonRoundTrip(new Patching.Result("block_every", List.of("patch_type", "layer", "pos"),
                new int[] {2, 1, 2}, new double[] {1, nan, 3, 4}, List.of("resid_pre", "attn_out"), List.of(List.of("<|endoftext|>", " Mary")),
                nan, -0.5, "suffix", 0.25));
        assertEquals(4, every.at(1, 0, 1));
        assertTrue(Double.isNaN(every.cleanValue()));
        assertEquals(List.of("resid_pre", "attn_out"), every.patchTypes());
        Fixtures.assertJsonRoundTrip(new Patching.Result("resid_pre", List.of("layer", "pos"), new int[] {0, 0}, new double[0], List.of(),
                List.of(), 1, 0, "batched", 0));
        PathPatching.Result toV = Fixtures.assertJsonRoundTrip(new PathPatching.Result(PathPatching.Receivers.heads("v", Head.of(1, 0)).spec(),
                PathPatching.Direction.NOISE, new double[][] {{0.5, nan}, {1, 2}}, List.of(List.of("a")), 1, 0, 0.5, "suffix", 0.1));
        assertEquals(PathPatching.Direction.NOISE, toV.direction());
        assertEquals(List.of(List.of(1, 0)), toV.receivers().get("heads"));
        // int[] layers in a receiver spec come back as a list of integers (the JSON is the same)
        Fixtures.assertJsonRoundTrip(new PathPatching.Result(PathPatching.Receivers.residual("resid_pre", 1).spec(), PathPatching.Direction.DENOISE,
                new double[][] {{1}}, List.of(), 1, 0, 0.5, "batched", 0));
        LogitLens.Result target = Fixtures.assertJsonRoundTrip(new LogitLens.Result("accumulated_resid", List.of("0_pre", "final_post"),
                new int[] {0, 1}, new int[] {3}, List.of(List.of("a", "b", "c", "d")), new long[][][][] {{{{3}}}, {{{4}}}},
                new String[][][][] {{{{"x"}}}, {{{"y"}}}}, new double[][][][] {{{{0.5}}}, {{{0.25}}}}, new double[][][] {{{0.1}}, {{0}}}, 17,
                new double[][][] {{{0.01}}, {{0.5}}}, new long[][][] {{{12}}, {{0}}}));
        assertEquals(17, target.targetId());
        assertEquals(12, target.targetRanks()[0][0][0]);
        ModelConfig cfg = Fixtures.assertJsonRoundTrip(new ModelConfig("tiny", 2, 4, 64, 16, 256, 512, null, 64, "gelu", "LN", "standard",
                false, null, "GPT2LMHeadModel", true, "cpu", "torch.float32"));
        assertEquals(64, cfg.dModel());
        assertTrue(AnalysisJson.toJson(cfg).contains("\"n_layers\" : 2"), "TransformerLens' field names");
        assertEquals(cfg, AnalysisJson.fromJson(AnalysisJson.toJson(cfg), ModelConfig.class));
        ActivationCache.Entry entry = Fixtures.assertJsonRoundTrip(new ActivationCache.Entry("blocks.0.hook_resid_pre", new long[] {1, 15, 64},
                "float32", "cpu"));
        assertEquals(15, entry.shape()[1]);
    }
}
