package org.lens4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.lens4j.analysis.AnalysisJson;
import org.lens4j.analysis.Head;

/**
 * Every example runs on the toy models it defaults to (through its {@code run(Lens, args)} entry
 * point, on the test run's shared worker) and gives the numbers the toy models were trained for.
 */
class ExamplesTest {

    @Test
    void ioiExploratoryAnalysis() throws Exception {
        IoiExploratoryAnalysis.Result r = IoiExploratoryAnalysis.run(ExampleSupport.lens("toy-ioi", "toy-induction"),
                ExampleSupport.args("IoiExploratoryAnalysis"));

        // toy-ioi does the task: logit(indirect object) - logit(subject) >= 2 on the seed's prompts
        assertTrue(r.averageLogitDiff() >= 2.0, "toy-ioi's average logit difference is " + r.averageLogitDiff() + ", expected >= 2.0");
        for (double d : r.perPromptLogitDiff()) {
            assertTrue(d > 0, "every prompt should prefer the indirect object: " + java.util.Arrays.toString(r.perPromptLogitDiff()));
        }
        // direct logit attribution adds up: the final residual stream through ln_final's scale gives the same number
        assertEquals(r.averageLogitDiff(), r.calculatedLogitDiff(), 1e-3);
        assertTrue(r.corruptedLogitDiff() < 0, "swapping the names should flip the answer: " + r.corruptedLogitDiff());

        // the resid_pre patching effect is concentrated on the name positions (and moves to the last token)
        double[][] patch = r.residPrePatching();
        int[] names = r.namePositions()[0];
        int last = patch[0].length - 1;
        double atNames = 0;
        double total = 0;
        for (int p = 0; p < patch[0].length; p++) {
            total += Math.abs(patch[0][p]);
            if (p == names[0] || p == names[1] || p == names[2]) {
                atNames += Math.abs(patch[0][p]);
            }
        }
        assertTrue(atNames >= 0.9 * total && atNames > 0.9, "layer 0's patching effect should sit on the name tokens "
                + names[0] + ", " + names[1] + ", " + names[2] + ": " + java.util.Arrays.toString(patch[0]));
        for (int layer = 0; layer < patch.length; layer++) {
            double namesAndLast = 0;
            double all = 0;
            for (int p = 0; p < patch[layer].length; p++) {
                all += Math.abs(patch[layer][p]);
                if (p == names[0] || p == names[1] || p == names[2] || p == last) {
                    namesAndLast += Math.abs(patch[layer][p]);
                }
            }
            assertTrue(namesAndLast >= 0.75 * all, "layer " + layer + "'s patching effect should sit on the names and the last token: "
                    + java.util.Arrays.toString(patch[layer]));
        }
        assertTrue(Math.abs(patch[patch.length - 1][last]) > 0.5, "by the last layer the effect should reach the last token: "
                + java.util.Arrays.toString(patch[patch.length - 1]));

        // the top name mover matters: ablating it lowers the logit difference
        assertTrue(r.topNameMoverDla() > 0, "the top name mover's attribution: " + r.topNameMoverDla());
        assertTrue(r.postAblationLogitDiff() < r.averageLogitDiff(), "ablating " + r.topNameMover() + " should lower the logit difference: "
                + r.postAblationLogitDiff() + " vs " + r.averageLogitDiff());

        // toy-induction, shown beside it, has an induction head in layer 1
        assertEquals("toy-induction", r.inductionModel());
        assertNotNull(r.inductionModelBest());
        assertEquals(1, r.inductionModelBest().layer(), "toy-induction's best induction head: " + r.inductionModelBest());
        assertTrue(r.inductionModelScore() >= 0.5, "toy-induction's induction score is " + r.inductionModelScore() + ", expected >= 0.5");

        ExampleSupport.assertFilesWritten("IoiExploratoryAnalysis", r.files(), 10, 8);
        IoiExploratoryAnalysis.Result again = AnalysisJson.read(ExampleSupport.outDir("IoiExploratoryAnalysis").resolve("summary.json"),
                IoiExploratoryAnalysis.Result.class);
        assertEquals(r.averageLogitDiff(), again.averageLogitDiff(), 0.0);
        assertEquals(r.topNameMover(), again.topNameMover());
    }

    @Test
    void qaActivationPatching() throws Exception {
        QaActivationPatching.Result r = QaActivationPatching.run(ExampleSupport.lens("toy-ioi"), ExampleSupport.args("QaActivationPatching"));

        assertTrue(r.cleanDiff() > 0, "toy-ioi should prefer ' Paris' after France: " + r.cleanDiff());
        assertTrue(r.corruptedDiff() < 0, "toy-ioi should prefer ' London' after England: " + r.corruptedDiff());
        // at layer 0 only the country token differs, so only it can carry the effect
        int france = r.capitalTokens().indexOf(" France");
        double[][] capital = r.patchingResult();
        assertEquals(1.0, capital[0][france], 1e-3);
        for (int p = 0; p < capital[0].length; p++) {
            if (p != france) {
                assertEquals(0.0, capital[0][p], 1e-3, "position " + p + " at layer 0");
            }
        }
        assertTrue(capital[capital.length - 1][capital[0].length - 1] > 0.8, "by the last layer the last position carries the answer: "
                + java.util.Arrays.toString(capital[capital.length - 1]));
        assertTrue(r.physicsCleanDiff() > r.physicsCorruptedDiff(), "drop -> gravity, throw -> air: " + r.physicsCleanDiff() + " vs "
                + r.physicsCorruptedDiff());
        assertTrue(ExampleSupport.finite(r.patchingResultPhysics()));
        assertTrue(r.generation().startsWith("When you drop a ball, it falls to the ground because of"), r.generation());
        assertEquals(10, r.topTokens().size());
        for (int i = 1; i < r.topProbs().length; i++) {
            assertTrue(r.topProbs()[i] <= r.topProbs()[i - 1], "top-10 probabilities are sorted");
        }
        assertEquals(10, r.questions().size());
        assertEquals(10, r.bestInductionHeads().size());
        ExampleSupport.assertFilesWritten("QaActivationPatching", r.files(), 5, 3);
    }

    @Test
    void functionInductionPathPatching() throws Exception {
        FunctionInductionPathPatching.Result r = FunctionInductionPathPatching.run(ExampleSupport.lens("toy-ioi"),
                ExampleSupport.args("FunctionInductionPathPatching"));

        assertEquals(12, r.normalPrompts().size());
        assertEquals(12, r.contrastPrompts().size());
        assertTrue(Double.isFinite(r.normalLogitDiff()) && Double.isFinite(r.contrastLogitDiff()));
        assertTrue(ExampleSupport.finite(r.resultsResidPost()));
        assertTrue(r.receiverHead().layer() > 0, "the receiver head needs earlier heads to send to it: " + r.receiverHead());
        // heads at or after the receiver's layer have no path into its value input: their results are 0
        Head receiver = r.receiverHead();
        for (int l = receiver.layer(); l < r.resultsHeadV().length; l++) {
            for (double v : r.resultsHeadV()[l]) {
                assertEquals(0.0, v, 1e-6);
            }
        }
        ExampleSupport.assertFilesWritten("FunctionInductionPathPatching", r.files(), 4, 2);
    }

    @Test
    void logitLensAndSteering() throws Exception {
        LogitLensAndSteering.Result r = LogitLensAndSteering.run(ExampleSupport.lens("toy-ioi"), ExampleSupport.args("LogitLensAndSteering"));

        // the lens gets closer to the final prediction layer by layer
        for (double[] kl : r.lastKl()) {
            assertTrue(kl[kl.length - 1] < kl[0], "KL(final || layer) should fall from the first to the last layer: " + java.util.Arrays.toString(kl));
        }
        List<String> alice = r.lastTopTokens().get(1);
        assertEquals(" Bob", alice.get(alice.size() - 1), "toy-ioi completes 'Alice and Bob went to the store. Alice gave the milk to' with ' Bob'");
        assertEquals(97, r.pairs());
        for (int i = 0; i < r.separability().length; i++) {
            assertTrue(r.separability()[i] >= 0.0 && r.separability()[i] <= 1.0, "accuracy " + r.separability()[i]);
            assertTrue(r.explainedVariance()[i] > 0.0 && r.explainedVariance()[i] <= 1.0 + 1e-9, "explained variance " + r.explainedVariance()[i]);
        }
        // adding the (antonym - translation) vector favours the antonym more than subtracting it does
        double[] steered = r.steeredLogitDiff();
        assertEquals(0.0, r.coefficients()[steered.length / 2], 0.0);
        assertTrue(steered[steered.length - 1] > steered[0], "steering should move the logit difference with the coefficient: "
                + java.util.Arrays.toString(steered));
        assertEquals(3, r.generations().size());
        assertTrue(r.generations().get(1).get(0).startsWith("hot :"), r.generations().toString());
        ExampleSupport.assertFilesWritten("LogitLensAndSteering", r.files(), 5, 5);
    }

    @Test
    void ablationComparison() throws Exception {
        AblationComparison.Result r = AblationComparison.run(ExampleSupport.lens("toy-ioi"), ExampleSupport.args("AblationComparison"));

        assertTrue(r.originalLogitDiff() >= 2.0, "toy-ioi's logit difference: " + r.originalLogitDiff());
        assertEquals(List.of("resample", "zero", "mean"), r.methods());
        for (double[][] grid : r.scores()) {
            assertTrue(ExampleSupport.finite(grid));
        }
        assertEquals(r.specifiedHeads().keySet(), r.categoryDifference().keySet());
        double bestInduction = 0;
        for (double[] row : r.inductionHeads()) {
            for (double v : row) {
                bestInduction = Math.max(bestInduction, v);
            }
        }
        assertTrue(bestInduction > 0, "detect_head found no induction-like head at all");
        ExampleSupport.assertFilesWritten("AblationComparison", r.files(), 7, 4);
        assertTrue(Path.of("target", "examples-out", "AblationComparison", "summary.json").toFile().isFile());
    }
}
