package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.viz.Html;

/** Each result record's figure: the plotly figure the seed draws, titled and labelled. (What the pages render is the viz tests' job.) */
class FiguresTest {
    private static void assertFigure(Html page, String kind, String... texts) {
        assertEquals(kind, page.kind());
        for (String t : texts) {
            assertTrue(page.html().contains(t), "the " + kind + " page mentions " + t);
        }
    }

    @Test
    void everyResultDrawsItsSeedsFigure() {
        Lens lens = Fixtures.lens();
        double nan = Double.NaN;
        LogitLens.Result lensResult = new LogitLens.Result("ln2_normalized", List.of("0_ln2", "1_ln2"), new int[] {0, 1}, new int[] {0, 1},
                List.of(List.of("<|endoftext|>", "Jam")), new long[][][][] {{{{3}, {4}}}, {{{5}, {6}}}},
                new String[][][][] {{{{"x"}, {"y"}}}, {{{"z"}, {"w"}}}}, new double[][][][] {{{{0.5}, {0.25}}}, {{{0.5}, {0.25}}}},
                new double[][][] {{{0.1, 0.2}}, {{0.05, 0.0}}}, null, null, null);
        assertFigure(lensResult.figure(lens), "imshow", "KL(final || layer)", "Jam");
        DirectLogitAttribution.Attribution heads = new DirectLogitAttribution.Attribution("head", List.of("L0H0", "L0H1", "L1H0", "L1H1"),
                new double[] {1, -2, 0.5, 3}, new double[][] {{1}, {-2}, {0.5}, {3}}, 2.5, new int[][] {{1, 2}}, 2, 2);
        assertFigure(heads.figure(lens), "imshow", "by head");
        DirectLogitAttribution.Attribution layers = new DirectLogitAttribution.Attribution("accumulated", List.of("0_pre", "1_pre", "final_post"),
                new double[] {0, 1, 2}, new double[][] {{0}, {1}, {2}}, 2, new int[][] {{1, 2}}, 2, 2);
        assertFigure(layers.figure(lens), "line", "final_post");
        DirectLogitAttribution.Attribution ablated = new DirectLogitAttribution.Attribution("head", heads.labels(), new double[] {1, 0, 0.9, 2},
                heads.perPrompt(), 1.0, heads.answerTokenIds(), 2, 2);
        assertFigure(heads.scatterAgainst(lens, ablated, "Original", "Ablated"), "scatter", "L1H1", "Ablated vs Original");
        assertThrows(InvalidInputException.class, () -> heads.scatterAgainst(lens, layers, "a", "b"));
        assertFigure(new HeadDetector.Scores("induction_head", new double[][] {{0.1, 0.9}, {0.3, 0.2}}, 1).figure(lens), "imshow",
                "induction_head scores");
        assertEquals(3, new HeadDetector.RepeatedTokenScores(5, new double[][] {{1}}, new double[][] {{2}}, new double[][] {{3}}).figures(lens).size());
        assertFigure(new HeadDetector.InductionScores(List.of("1 2 3 1 2 3"), new double[][][] {{{0.1, 0.2}, {0.3, 0.4}}}, new int[] {1},
                new int[] {1}, new double[] {0.4}, -2, 7).figure(lens), "imshow", "L1H1");
        assertFigure(new Ablation.HeadAblation("zero", new double[][] {{nan, 0.5}, {-0.2, 1}}, true, new int[] {14}, 1, 0).figure(lens),
                "imshow", "zero ablation");
        assertEquals(2, new Ablation.Comparison(List.of("resample", "zero"), new double[][][] {{{1}}, {{0.5}}}, new int[] {14}, 1, 0,
                Map.of()).figures(lens).size());
        Pca2.Result pca = new Pca2.Result(List.of(4), new double[][][] {{{1, 0}, {0, 1}}}, new double[][][] {{{1, 2}, {1.5, 2.5}}},
                new double[][][] {{{-1, -2}}}, new double[][] {{0.6, 0.4}}, new double[][] {{0, 0}}, new double[] {1}, new double[] {1});
        assertFigure(pca.figure(lens, 4), "scatter", "Layer 4 activation separability", "b0");
        assertThrows(InvalidInputException.class, () -> pca.figure(lens, 3));
        assertFigure(new SteeringVector("resid_pre", List.of(0, 1), new double[][] {{1, 0}, {0, 2}}, new double[] {1, 2}).figure(lens),
                "line", "Steering vector norm");
    }
}
