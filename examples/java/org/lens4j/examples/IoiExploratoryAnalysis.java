package org.lens4j.examples;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.lens4j.ActName;
import org.lens4j.ActivationCache;
import org.lens4j.HookSet;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Run;
import org.lens4j.Scope;
import org.lens4j.Slice;
import org.lens4j.Tensor;
import org.lens4j.analysis.AnswerPair;
import org.lens4j.analysis.DirectLogitAttribution.Attribution;
import org.lens4j.analysis.DirectLogitAttribution.By;
import org.lens4j.analysis.DirectLogitAttribution;
import org.lens4j.analysis.Head;
import org.lens4j.analysis.HeadDetector;
import org.lens4j.analysis.LogitLens;
import org.lens4j.analysis.Metrics;
import org.lens4j.analysis.Patching;
import org.lens4j.analysis.TestPrompt;
import org.lens4j.hook.Hook;
import org.lens4j.viz.AttentionOptions;
import org.lens4j.viz.Html;
import org.lens4j.viz.Views;

/**
 * Seed 001, TransformerLens' "Exploratory Analysis Demo": speed-running the Indirect Object
 * Identification circuit ("When John and Mary went to the shops, John gave the bag to" ->
 * " Mary"). The steps and names follow the notebook: test_prompt, the logit difference, direct
 * logit attribution (accumulated residual stream = logit lens, per layer, per head), activation
 * patching of the residual stream and of head outputs, previous-token / duplicate-token /
 * induction head scores, and the backup name movers that take over when the top name mover is
 * ablated.
 *
 * <pre>
 * ./lens4j run IoiExploratoryAnalysis [--model toy-ioi] [--out out/IoiExploratoryAnalysis] [--induction-model toy-induction]
 * </pre>
 */
public final class IoiExploratoryAnalysis {
    /**
     * The key numbers.
     *
     * @param perPromptLogitDiff logit(indirect object) - logit(subject) at the last token, per prompt
     * @param averageLogitDiff their mean
     * @param calculatedLogitDiff the same from the final residual stream through ln_final's scale
     * @param corruptedLogitDiff the mean on the corrupted prompts (each pair's names swapped)
     * @param residPrePatching normalized logit difference, [layer][position] (first prompt's tokens)
     * @param tokens the first prompt's tokens
     * @param namePositions per prompt: positions of the indirect object, the subject (S1) and its repeat (S2)
     * @param topNameMover the head with the largest direct logit attribution
     * @param topNameMoverDla its attribution
     * @param postAblationLogitDiff the average logit difference with the top name mover's z zeroed at the last position
     * @param naivePrediction {@code averageLogitDiff - topNameMoverDla}: the prediction without backup behaviour
     * @param backupHeads the heads whose attribution rose most when the top name mover was ablated
     * @param bestPreviousToken the head with the highest previous-token score (repeated random tokens)
     * @param bestDuplicateToken the head with the highest duplicate-token score
     * @param bestInduction the head with the highest induction score
     * @param bestInductionScore its score
     * @param inductionModel the model whose induction heads are shown for comparison (toy-induction beside a toy model), or null
     * @param inductionModelBest its best induction head
     * @param inductionModelScore that head's induction score
     */
    public record Result(String model, double[] perPromptLogitDiff, double averageLogitDiff, double calculatedLogitDiff,
                         double corruptedLogitDiff, double[][] residPrePatching, List<String> tokens, int[][] namePositions,
                         Head topNameMover, double topNameMoverDla, double postAblationLogitDiff, double naivePrediction,
                         List<Head> backupHeads, Head bestPreviousToken, Head bestDuplicateToken, Head bestInduction,
                         double bestInductionScore, String inductionModel, Head inductionModelBest, double inductionModelScore,
                         List<String> files, double seconds) {
    }

    private IoiExploratoryAnalysis() {
    }

    public static void main(String[] args) {
        String model = Cli.option(args, "--model", "toy-ioi");
        try (Lens lens = Lens.start(Cli.engineOptions(model))) {
            run(lens, args);
        }
    }

    @SuppressWarnings("try") // the scope and the hooks scope are used for their close()
    public static Result run(Lens lens, String[] args) {
        String modelName = Cli.option(args, "--model", "toy-ioi");
        Output out = new Output(Cli.outDir(args, "IoiExploratoryAnalysis"));
        long start = System.nanoTime();
        try (Scope scope = lens.scope()) {
            Model model = lens.load(modelName);
            int nLayers = model.cfg().nLayers();
            int nHeads = model.cfg().nHeads();
            Print.title("Exploratory analysis of Indirect Object Identification (seed 001) on " + modelName);
            System.out.println(model);

            // # Indirect Object Identification: can the model do the task? (utils.test_prompt)
            Print.step("test_prompt");
            String examplePrompt = "After John and Mary went to the store, John gave a bottle of milk to";
            String exampleAnswer = " Mary";
            TestPrompt.Result test = TestPrompt.run(model, examplePrompt, exampleAnswer, TestPrompt.Options.defaults().withPrependBos(true));
            System.out.println(test);
            out.json("test_prompt", test);

            // # The prompts: each template twice, once with each name as the indirect object
            Print.step("Prompts and answers");
            String[] promptFormat = {
                "When John and Mary went to the shops,%s gave the bag to",
                "When Tom and James went to the park,%s gave the ball to",
                "When Dan and Sid went to the shops,%s gave an apple to",
                "After Martin and Amy went to the park,%s gave a drink to",
            };
            String[][] names = {{" Mary", " John"}, {" Tom", " James"}, {" Dan", " Sid"}, {" Martin", " Amy"}};
            List<String> prompts = new ArrayList<>();
            List<AnswerPair> answers = new ArrayList<>();
            for (int i = 0; i < promptFormat.length; i++) {
                for (int j = 0; j < 2; j++) {
                    answers.add(AnswerPair.of(names[i][j], names[i][1 - j]));
                    // Insert the *incorrect* answer to the prompt, making the correct answer the indirect object.
                    prompts.add(String.format(promptFormat[i], names[i][1 - j]));
                }
            }
            List<List<String>> strTokens = model.toStrTokensBatch(prompts);
            for (int i = 0; i < prompts.size(); i++) {
                Print.line("  %s  -> %s (not %s)", prompts.get(i), Print.tok((String) answers.get(i).correct()),
                        Print.tok((String) answers.get(i).incorrect()));
            }
            Print.line("Prompt length: %d tokens (every prompt); as tokens: %s", strTokens.get(0).size(), Print.toks(strTokens.get(0)));
            int[][] namePositions = namePositions(strTokens, answers);

            // # run_with_cache on the batch
            Tensor tokens = model.toTokens(prompts, true, null);
            Run original = model.runWithCache(tokens);
            Tensor originalLogits = original.logits();
            ActivationCache cache = original.cache();

            // # Logit difference (logits_to_ave_logit_diff)
            Print.step("Logit difference");
            double[] perPrompt = Metrics.logitDiffPerPrompt(model, originalLogits, answers);
            double originalAverageLogitDiff = Metrics.logitDiff(model, originalLogits, answers);
            Print.line("Per prompt logit difference: %s", Print.nums(perPrompt));
            Print.line("Average logit difference: %.3f  (e^%.2f = %.0fx more probability on the indirect object than on the subject)",
                    originalAverageLogitDiff, originalAverageLogitDiff, Math.exp(originalAverageLogitDiff));

            // # Direct Logit Attribution: the logit difference as a direction in the residual stream
            Print.step("Direct logit attribution");
            try (Tensor directions = model.tokensToResidualDirections(" Mary", " John")) {
                Print.line("Answer residual directions shape: %s (W_U columns of ' Mary' and ' John'); the logit difference "
                        + "direction is their difference", Arrays.toString(directions.shape()));
            }
            Attribution perLayer = DirectLogitAttribution.logitDiff(model, cache, answers, By.LAYER);
            Print.line("Calculated average logit diff: %.3f  (final residual stream . logit diff direction, through ln_final's scale)",
                    perLayer.logitDiff());
            Print.line("Original logit difference:     %.3f", originalAverageLogitDiff);

            // # Logit Lens: the accumulated residual stream after each layer, projected on the logit difference direction
            Print.step("Logit lens (accumulated residual stream)");
            Attribution accumulated = DirectLogitAttribution.logitDiff(model, cache, answers, By.ACCUMULATED);
            printLine(accumulated);
            LogitLens.Result lensOnExample = LogitLens.run(model, examplePrompt, LogitLens.Options.defaults()
                    .withSource(LogitLens.Source.ACCUMULATED_RESID).withInclMid(true).withTarget(exampleAnswer).withPositions(List.of(-1)));
            StringBuilder probs = new StringBuilder();
            for (int r = 0; r < lensOnExample.labels().size(); r++) {
                probs.append(String.format(Locale.ROOT, "%s %.2f  ", lensOnExample.labels().get(r), lensOnExample.targetProbs()[r][0][0]));
            }
            Print.line("P(' Mary') on the example prompt, read off each layer: %s", probs.toString().strip());
            out.json("dla_accumulated", accumulated);
            out.json("logit_lens_example", lensOnExample);
            out.view("dla_accumulated", accumulated.figure(lens));

            // # Layer Attribution: each layer's attention and MLP output
            Print.step("Layer attribution");
            printLine(perLayer);
            out.json("dla_layer", perLayer);
            out.view("dla_layer", perLayer.figure(lens));

            // # Head Attribution: each head's output (stack_head_results)
            Print.step("Head attribution");
            Attribution perHead = DirectLogitAttribution.logitDiff(model, cache, answers, By.HEAD);
            double[][] perHeadLogitDiffs = perHead.headGrid();
            Print.table(perHeadLogitDiffs, Print.layers(nLayers), Print.heads(nHeads), 7, "%.2f");
            Print.line("Most positive heads: %s", Print.best(perHeadLogitDiffs, 3));
            Print.line("Most negative heads: %s", Print.worst(perHeadLogitDiffs, 3));
            out.json("dla_head", perHead);
            out.view("dla_head", perHead.figure(lens));

            // # Attention Analysis: where the top heads look from the last token
            List<Head> ranked = Print.ranked(perHeadLogitDiffs);
            List<Head> topPositive = ranked.subList(0, Math.min(3, ranked.size()));
            List<Head> topNegative = new ArrayList<>(ranked.subList(Math.max(0, ranked.size() - 3), ranked.size()));
            Collections.reverse(topNegative);
            // The logit difference of each top head split into its two logits (cache.logit_attrs), and where it looks
            double[][] ioAndS = logitAttrs(cache, answers, nHeads);
            Print.line("The top heads, from the last token (averaged over the prompts):");
            for (Head h : topPositive) {
                double[] share = attentionToNames(cache, h, namePositions, -1);
                double[] attrs = ioAndS[h.layer() * nHeads + h.head()];
                Print.line("  %s  writes %+.2f to the indirect object's logit, %+.2f to the subject's; attends to IO %.2f, S1 %.2f, S2 %.2f",
                        h, attrs[0], attrs[1], share[0], share[1], share[2]);
                Print.line("        -> %s", role(share, attrs));
            }
            out.view("attention_top_positive_heads", attentionView(lens, cache, topPositive, strTokens.get(0), "Top positive logit attribution heads"));
            out.view("attention_top_negative_heads", attentionView(lens, cache, topNegative, strTokens.get(0), "Top negative logit attribution heads"));

            // # Activation Patching: corrupted prompts swap each pair's names
            Print.step("Activation patching: residual stream (resid_pre, layer x position)");
            List<String> corruptedPrompts = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i += 2) {
                corruptedPrompts.add(prompts.get(i + 1));
                corruptedPrompts.add(prompts.get(i));
            }
            Tensor corruptedTokens = model.toTokens(corruptedPrompts, true, null);
            double corruptedAverageLogitDiff = Metrics.logitDiff(model, model.logits(corruptedTokens), answers);
            Print.line("Corrupted Average Logit Diff %.2f", corruptedAverageLogitDiff);
            Print.line("Clean Average Logit Diff %.2f", originalAverageLogitDiff);
            Patching.Result residPre = Patching.sweep(model, tokens, corruptedTokens,
                    Metrics.normalized(Metrics.logitDiff(answers)), Patching.Kind.RESID_PRE);
            double[][] residPreGrid = residPre.grid();
            Print.line("Normalized logit difference after patching the clean residual stream into the corrupted run "
                    + "(1 = clean, 0 = corrupted):");
            Print.table(residPreGrid, Print.layers(nLayers), Print.positions(strTokens.get(0)), 6, "%.2f");
            describePatching(residPreGrid, strTokens.get(0), namePositions[0]);
            out.json("patching_resid_pre", residPre);
            out.view("patching_resid_pre", residPre.figure(lens));

            Print.step("Activation patching: head outputs (z, all positions)");
            Patching.Result headOut = Patching.sweep(model, tokens, corruptedTokens,
                    Metrics.normalized(Metrics.logitDiff(answers)), Patching.Kind.ATTN_HEAD_OUT_ALL_POS);
            double[][] headOutGrid = headOut.grid();
            Print.table(headOutGrid, Print.layers(nLayers), Print.heads(nHeads), 7, "%.2f");
            Print.line("Heads whose clean output restores the most: %s", Print.best(headOutGrid, 3));
            Head topPatched = Print.ranked(headOutGrid).get(0);
            double[] fromS2 = attentionToNames(cache, topPatched, namePositions, 2);
            int[] focus = strongestKey(cache, topPatched, namePositions[0][2]);
            Print.line("%s at the repeated subject S2 attends to S1 %.2f, to the indirect object %.2f; most to %s (position %d%s, %.2f)%s",
                    topPatched, fromS2[1], fromS2[0], Print.tok(strTokens.get(0).get(focus[0])), focus[0],
                    focus[0] == namePositions[0][2] ? ": itself" : "", focus[1] / 100.0,
                    fromS2[1] > 0.5 ? ": a duplicate token head, it notices that the subject is repeated" : "");
            out.json("patching_head_out", headOut);
            out.view("patching_head_out", headOut.figure(lens));

            // Beyond the notebook: attribution patching estimates the same grid from one forward and backward
            Patching.Result estimate = Patching.attribution(model, tokens, corruptedTokens,
                    Metrics.normalized(Metrics.logitDiff(answers)), Patching.Kind.ATTN_HEAD_OUT_ALL_POS);
            double[][] estimateGrid = estimate.grid();
            double worstError = 0;
            for (int layer = 0; layer < nLayers; layer++) {
                for (int head = 0; head < nHeads; head++) {
                    worstError = Math.max(worstError, Math.abs(estimateGrid[layer][head] - headOutGrid[layer][head]));
                }
            }
            Print.line("Attribution patching (first-order estimate, %.2f s vs %.2f s for the exact sweep): %s; largest error %.3f",
                    estimate.seconds(), headOut.seconds(), Print.best(estimateGrid, 3), worstError);
            out.json("attribution_head_out", estimate);

            // # Finding induction heads: previous-token, duplicate-token and induction scores on repeated random tokens
            Print.step("Head scores on repeated random tokens (seq_len 100, batch 2)");
            int seqLen = 100;
            int[] range = RandomTokens.range(model);
            Tensor repeatedTokens = HeadDetector.repeatedRandomTokens(model, seqLen, 2, 0, range[0], range[1], false);
            HeadDetector.RepeatedTokenScores scores = HeadDetector.repeatedTokenScores(model, repeatedTokens, seqLen);
            Print.line("Previous token heads:  %s", Print.best(scores.previousToken(), 3));
            Print.line("Duplicate token heads: %s", Print.best(scores.duplicateToken(), 3));
            Print.line("Induction heads:       %s", Print.best(scores.induction(), 3));
            out.json("head_scores", scores);
            List<Html> scoreViews = scores.figures(lens);
            out.view("head_scores_previous_token", scoreViews.get(0));
            out.view("head_scores_duplicate_token", scoreViews.get(1));
            out.view("head_scores_induction", scoreViews.get(2));
            Head bestPrev = Print.ranked(scores.previousToken()).get(0);
            Head bestDup = Print.ranked(scores.duplicateToken()).get(0);
            Head bestInduction = Print.ranked(scores.induction()).get(0);
            // The same scores on lens4j's induction model, a 2-layer attention-only model trained on repeated sequences.
            String inductionModelName = Cli.option(args, "--induction-model", Cli.isToy(modelName) ? "toy-induction" : null);
            Head inductionModelBest = null;
            double inductionModelScore = Double.NaN;
            if (inductionModelName != null) {
                Model inductionModel = lens.load(inductionModelName);
                int[] r = RandomTokens.range(inductionModel);
                Tensor repeated = HeadDetector.repeatedRandomTokens(inductionModel, seqLen, 2, 0, r[0], r[1], false);
                HeadDetector.RepeatedTokenScores induction = HeadDetector.repeatedTokenScores(inductionModel, repeated, seqLen);
                inductionModelBest = Print.ranked(induction.induction()).get(0);
                inductionModelScore = induction.induction()[inductionModelBest.layer()][inductionModelBest.head()];
                Print.line("For comparison, %s (%d layers, attention only, trained on repeated sequences):", inductionModelName,
                        inductionModel.cfg().nLayers());
                Print.line("  previous token heads %s; induction heads %s", Print.best(induction.previousToken(), 2),
                        Print.best(induction.induction(), 2));
                out.json("head_scores_" + Path.of(inductionModelName).getFileName(), induction);
                out.view("head_scores_induction_" + Path.of(inductionModelName).getFileName(), induction.figures(lens).get(2));
                inductionModel.close();
            }

            // # Backup Name Mover Heads: ablate the top name mover's z at the last position, then cache the ablated run
            Print.step("Backup name mover heads");
            Head topNameMover = ranked.get(0);
            double topNameMoverDla = perHeadLogitDiffs[topNameMover.layer()][topNameMover.head()];
            Print.line("Top Name Mover to ablate: %s", topNameMover);
            Run ablated;
            try (HookSet ablation = model.hooks(Hook.at(ActName.of("z", topNameMover.layer())).positions(-1).heads(topNameMover.head()).zero())) {
                ablated = model.runWithCache(tokens);
            }
            double postAblation = Metrics.logitDiff(model, ablated.logits(), answers);
            double naive = originalAverageLogitDiff - topNameMoverDla;
            Print.line("Original logit diff: %.2f", originalAverageLogitDiff);
            Print.line("Post ablation logit diff: %.2f", postAblation);
            Print.line("Direct Logit Attribution of top name mover head: %.2f", topNameMoverDla);
            Print.line("Naive prediction of post ablation logit diff: %.2f", naive);
            Attribution perHeadAblated = DirectLogitAttribution.logitDiff(model, ablated.cache(), answers, By.HEAD);
            double[][] ablatedGrid = perHeadAblated.headGrid();
            double[][] change = new double[nLayers][nHeads];
            for (int l = 0; l < nLayers; l++) {
                for (int h = 0; h < nHeads; h++) {
                    change[l][h] = l == topNameMover.layer() && h == topNameMover.head() ? Double.NaN : ablatedGrid[l][h] - perHeadLogitDiffs[l][h];
                }
            }
            List<Head> backup = Print.ranked(change).subList(0, Math.min(3, nLayers * nHeads - 1));
            if (postAblation > naive + 0.1) {
                Print.line("Backup behaviour: the other heads make up %.2f of the %.2f that %s wrote directly", postAblation - naive,
                        topNameMoverDla, topNameMover);
            } else if (postAblation < naive - 0.1) {
                Print.line("No backup behaviour: the logit difference falls %.2f below the naive prediction (the rest of the model leaned on %s too)",
                        naive - postAblation, topNameMover);
            } else {
                Print.line("The logit difference falls as the naive prediction says: no backup behaviour");
            }
            Print.line("Heads whose direct logit attribution rose most after the ablation: %s", Print.best(change, 3));
            double lnRatio;
            try (Tensor scaleOriginal = cache.get("ln_final.hook_scale").select(1, -1);
                 Tensor scaleAblated = ablated.cache().get("ln_final.hook_scale").select(1, -1);
                 Tensor ratio = scaleOriginal.div(scaleAblated).mean()) {
                lnRatio = ratio.item();
            }
            Print.line("Average LN scaling ratio: %.3f", lnRatio);
            out.json("dla_head_ablated", perHeadAblated);
            out.view("backup_name_movers", perHead.scatterAgainst(lens, perHeadAblated, "Original", "Ablated"));

            // # In short
            Print.step("In short");
            int bestComponent = 0;
            for (int i = 1; i < perLayer.values().length; i++) {
                if (perLayer.values()[i] > perLayer.values()[bestComponent]) {
                    bestComponent = i;
                }
            }
            int moved = -1;
            for (int l = 0; l < nLayers && moved < 0; l++) {
                if (residPreGrid[l][residPreGrid[l].length - 1] > 0.5) {
                    moved = l;
                }
            }
            double[] topShare = attentionToNames(cache, topNameMover, namePositions, -1);
            Print.line("%s prefers the indirect object by %.2f logits on average (%.2f with the names swapped).", modelName,
                    originalAverageLogitDiff, corruptedAverageLogitDiff);
            Print.line("The largest direct contribution is %s (%.2f), chiefly head %s (%.2f), which %s.", perLayer.labels().get(bestComponent),
                    perLayer.values()[bestComponent], topNameMover, topNameMoverDla,
                    role(topShare, ioAndS[topNameMover.layer() * nHeads + topNameMover.head()]));
            if (moved >= 0) {
                Print.line("Patching the residual stream: the answer's information sits at the repeated subject until layer %d, "
                        + "then at the final token.", moved - 1 < 0 ? 0 : moved - 1);
            }
            Print.line("Zeroing %s at the last token leaves a logit difference of %.2f (naive prediction %.2f).", topNameMover, postAblation, naive);

            double seconds = (System.nanoTime() - start) / 1e9;
            List<String> files = new ArrayList<>(out.names());
            files.add("summary.json");
            Result result = new Result(modelName, perPrompt, originalAverageLogitDiff, perLayer.logitDiff(), corruptedAverageLogitDiff,
                    residPreGrid, strTokens.get(0), namePositions, topNameMover, topNameMoverDla, postAblation, naive, List.copyOf(backup),
                    bestPrev, bestDup, bestInduction, scores.induction()[bestInduction.layer()][bestInduction.head()], inductionModelName,
                    inductionModelBest, inductionModelScore, files, seconds);
            out.json("summary", result);
            out.printSummary();
            Print.line("Done in %.1f s.", seconds);
            return result;
        }
    }

    /** Labelled values, wrapped at 100 columns: "0_pre 0.00   0_mid 0.01   ...". */
    private static void printLine(Attribution a) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < a.labels().size(); i++) {
            String item = String.format(Locale.ROOT, "%s %.2f", a.labels().get(i), a.values()[i]);
            if (line.length() > 0 && line.length() + item.length() > 100) {
                System.out.println(line.toString().strip());
                line.setLength(0);
            }
            line.append(item).append("   ");
        }
        System.out.println(line.toString().strip());
    }

    /** Per prompt: the positions of the indirect object, the subject and the subject's repeat. */
    static int[][] namePositions(List<List<String>> strTokens, List<AnswerPair> answers) {
        int[][] out = new int[strTokens.size()][];
        for (int i = 0; i < strTokens.size(); i++) {
            List<String> t = strTokens.get(i);
            String io = (String) answers.get(i).correct();
            String s = (String) answers.get(i).incorrect();
            int ioPos = t.indexOf(io);
            int s1 = t.indexOf(s);
            int s2 = t.lastIndexOf(s);
            if (ioPos < 0 || s1 < 0 || s1 == s2) {
                throw new IllegalStateException("prompt " + i + " does not hold the names as single tokens: " + t);
            }
            out[i] = new int[] {ioPos, s1, s2};
        }
        return out;
    }

    /**
     * The mean attention of a head to the indirect object, S1 and S2, from the last token
     * ({@code from} = -1) or from one of the name positions ({@code from} = 0, 1, 2).
     */
    private static double[] attentionToNames(ActivationCache cache, Head head, int[][] namePositions, int from) {
        float[][][] pattern;
        try (Tensor all = cache.get("pattern", head.layer()); Tensor h = all.select(1, head.head())) {
            pattern = h.toFloatArray3(); // [batch, query position, key position]
        }
        double[] share = new double[3];
        for (int b = 0; b < pattern.length; b++) {
            float[] row = pattern[b][from < 0 ? pattern[b].length - 1 : namePositions[b][from]];
            for (int k = 0; k < 3; k++) {
                share[k] += row[namePositions[b][k]] / pattern.length;
            }
        }
        return share;
    }

    /** For the first prompt: the key position a head attends to most from {@code query}, and that attention x 100. */
    private static int[] strongestKey(ActivationCache cache, Head head, int query) {
        float[] row;
        try (Tensor all = cache.get("pattern", head.layer()); Tensor first = all.select(0, 0); Tensor h = first.select(0, head.head());
             Tensor q = h.select(0, query)) {
            row = q.toFloatArray();
        }
        int best = 0;
        for (int k = 1; k < row.length; k++) {
            if (row[k] > row[best]) {
                best = k;
            }
        }
        return new int[] {best, Math.round(row[best] * 100)};
    }

    /** What a head does, from where it looks (IO, S1, S2) and which logit it moves (IO, S). */
    private static String role(double[] share, double[] attrs) {
        String moves = attrs[0] >= -attrs[1] ? "raises the indirect object" : "pushes the subject down";
        if (share[0] > share[1] + share[2]) {
            return "copies the indirect object: a name mover (" + moves + ")";
        }
        if (share[2] > share[0] + share[1] || share[1] > share[0] + share[2]) {
            return "reads the subject (S" + (share[2] > share[1] ? "2" : "1") + ") and " + moves + ": it tells the names apart by the repeated one";
        }
        return (share[0] + share[1] + share[2] > 0.5 ? "spreads its attention over the names" : "looks mostly elsewhere") + " and " + moves;
    }

    /** Per head (row-major, L0H0, L0H1, ...): its direct attribution to logit(IO) and to logit(S), averaged over the prompts. */
    private static double[][] logitAttrs(ActivationCache cache, List<AnswerPair> answers, int nHeads) {
        var stackOptions = DirectLogitAttribution.StackHeadResultsOptions.defaults().withLayer(-1).withPosSlice(Slice.at(-1));
        var o = DirectLogitAttribution.LogitAttrsOptions.defaults().withPosSlice(Slice.at(-1));
        List<Object> io = answers.stream().map(AnswerPair::correct).toList();
        List<Object> s = answers.stream().map(AnswerPair::incorrect).toList();
        try (DirectLogitAttribution.LabelledStack heads = DirectLogitAttribution.stackHeadResults(cache, stackOptions);
             Tensor toIo = DirectLogitAttribution.logitAttrs(cache, heads.stack(), io, null, o);
             Tensor toS = DirectLogitAttribution.logitAttrs(cache, heads.stack(), s, null, o);
             Tensor ioMean = toIo.mean(1);
             Tensor sMean = toS.mean(1)) {
            double[] a = ioMean.toDoubleArray();
            double[] b = sMean.toDoubleArray();
            double[][] out = new double[a.length][];
            for (int i = 0; i < a.length; i++) {
                out[i] = new double[] {a[i], b[i]};
            }
            return out;
        }
    }

    /** circuitsvis attention_heads of some heads on the first prompt (the seed's visualize_attention_patterns). */
    private static Html attentionView(Lens lens, ActivationCache cache, List<Head> heads, List<String> tokens, String title) {
        float[][][] patterns = new float[heads.size()][][];
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < heads.size(); i++) {
            Head h = heads.get(i);
            try (Tensor pattern = cache.get("pattern", h.layer()); Tensor first = pattern.select(0, 0); Tensor one = first.select(0, h.head())) {
                patterns[i] = one.toFloatArray2();
            }
            labels.add(h.toString());
        }
        return Views.attentionHeads(lens, patterns, tokens, AttentionOptions.titled(title).withHeadNames(labels));
    }

    /** Says where the patching effect lives: at the first layer, and where it ends up. */
    private static void describePatching(double[][] values, List<String> tokens, int[] names) {
        int last = values[0].length - 1;
        for (int layer : new int[] {0, values.length - 1}) {
            int best = 0;
            for (int p = 1; p < values[layer].length; p++) {
                if (Math.abs(values[layer][p]) > Math.abs(values[layer][best])) {
                    best = p;
                }
            }
            String where = best == names[2] ? "the repeated subject S2" : best == names[0] ? "the indirect object"
                    : best == names[1] ? "the subject S1" : best == last ? "the final token" : "position " + best;
            Print.line("Layer %d: the effect sits at %s %s (%.2f)", layer, where, Print.tok(tokens.get(best)), values[layer][best]);
        }
    }
}
