package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Result records print their arrays as shape and first values in JShell, never as {@code [D@1b6d3586}. */
class ResultToStringTest {

    /** A JVM array identity: {@code [I@...}, {@code [[D@...}, {@code [Ljava.lang.String;@...}. */
    private static final Pattern IDENTITY = Pattern.compile("\\[+([IJDFZBCS]|L[\\w.$]+;)@\\p{XDigit}+");

    private static void printsUsefully(Object result, String... expected) {
        String s = result.toString();
        assertFalse(IDENTITY.matcher(s).find(), "an array identity in: " + s);
        for (String e : expected) {
            assertTrue(s.contains(e), "expected '" + e + "' in: " + s);
        }
    }

    @Test
    void theIdentityCheckCatchesWhatARecordsDefaultPrints() {
        assertTrue(IDENTITY.matcher(new int[1].toString()).find());
        assertTrue(IDENTITY.matcher(new double[1][1].toString()).find());
        assertTrue(IDENTITY.matcher(new String[1].toString()).find());
    }

    @Test
    void aPatchingResultShowsItsGridShapeAndFirstValues() {
        var r = new Patching.Result("resid_pre", List.of("layer", "pos"), new int[] {2, 3}, new double[] {0.5, -1.25, 2, 3, 4, 5},
                List.of(), List.of(List.of("When", " John")), 1.5, -0.5, "suffix", 0.1);
        printsUsefully(r, "Patching.Result[", "shape=int[2] {2, 3}", "values=double[6] {0.5000, -1.250, 2.000, 3.000, 4.000, 5.000}",
                "axes=[layer, pos]", "method=suffix");
    }

    @Test
    void aLongArrayShowsItsFirstSixValuesAndAnEllipsis() {
        assertEquals("int[8] {0, 1, 2, 3, 4, 5, ...}", Shown.value(new int[] {0, 1, 2, 3, 4, 5, 6, 7}));
        assertEquals("double[2][0] {}", Shown.value(new double[2][0]));
        assertEquals("String[1][2] {a, b}", Shown.value(new String[][] {{"a", "b"}}));
    }

    @Test
    void aPathPatchingResultShowsItsRowsAndColumns() {
        var r = new PathPatching.Result(Map.of("hook", "q"), PathPatching.Direction.NOISE, new double[][] {{1, 2, 3}, {4, 5, 6}},
                List.of(), 2.0, 0.0, 0.25, "batched", 0.3);
        printsUsefully(r, "PathPatching.Result[", "values=double[2][3] {1.000, 2.000, 3.000, 4.000, 5.000, 6.000}", "direction=NOISE");
    }

    @Test
    void headScoresAblationsAndAttributionsShowTheirGrids() {
        printsUsefully(new HeadDetector.Scores("previous_token", new double[][] {{0.9, 0.1}}, 4),
                "HeadDetector.Scores[pattern=previous_token, scores=double[1][2] {0.9000, 0.1000}, nSequences=4]");
        printsUsefully(new HeadDetector.RepeatedTokenScores(10, new double[1][2], new double[1][2], new double[1][2]), "induction=double[1][2]");
        printsUsefully(new HeadDetector.InductionScores(List.of("a b a"), new double[1][1][2], new int[] {0}, new int[] {1}, new double[] {0.7}, 1, 2),
                "scores=double[1][1][2]", "maxScore=double[1] {0.7000}");
        printsUsefully(new Ablation.HeadAblation("zero", new double[2][4], true, new int[] {-1}, 3.0, 1.0), "Ablation.HeadAblation[", "scores=double[2][4]",
                "positions=int[1] {-1}");
        printsUsefully(new Ablation.Comparison(List.of("zero", "mean"), new double[2][2][4], new int[] {-1}, 3.0, 1.0, Map.of()),
                "scores=double[2][2][4]");
        printsUsefully(new DirectLogitAttribution.Attribution("layer", List.of("embed", "0_attn_out"), new double[] {0.5, -0.25},
                new double[1][2], 0.25, new int[][] {{11, 12}}, 2, 4), "values=double[2] {0.5000, -0.2500}", "answerTokenIds=int[1][2] {11, 12}");
        printsUsefully(new Pca2.Result(List.of(0), new double[1][2][8], new double[1][3][2], new double[1][3][2], new double[1][2], new double[1][8],
                new double[] {0.75}, new double[] {1.0}), "Pca2.Result[", "components=double[1][2][8]", "accuracyPca=double[1] {0.7500}");
        printsUsefully(new LogitLens.Result("accumulated_resid", List.of("0_pre"), new int[] {0}, new int[] {-1}, List.of(List.of("a")),
                new long[1][1][1][2], new String[][][][] {{{{" the", " a"}}}}, new double[1][1][1][2], new double[1][1][1], null, null, null),
                "LogitLens.Result[", "topTokens=String[1][1][1][2] { the,  a}", "topTokenIds=long[1][1][1][2] {0, 0}", "targetProbs=null");
    }
}
