package org.lens4j.examples;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.lens4j.ActivationCache;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Scope;
import org.lens4j.Tensor;
import org.lens4j.analysis.Ablation;
import org.lens4j.analysis.AnswerPair;
import org.lens4j.analysis.DirectLogitAttribution;
import org.lens4j.analysis.Head;
import org.lens4j.analysis.HeadDetector;
import org.lens4j.analysis.Metrics;
import org.lens4j.viz.AttentionOptions;
import org.lens4j.viz.Html;
import org.lens4j.viz.Views;

/**
 * Seed 004, "Ablation experiment": on the IOI prompts, each head's z at the last position is
 * replaced in the corrupted run in three ways (resample: the clean run's value; zero; mean),
 * the normalized logit difference is compared per head and per head category, and the heads
 * are scored by TransformerLens' {@code detect_head} on repeated random tokens.
 *
 * <pre>
 * ./lens4j run AblationComparison [--model toy-ioi] [--out out/AblationComparison]
 * </pre>
 */
public final class AblationComparison {
    /**
     * The key numbers.
     *
     * @param originalLogitDiff the clean prompts' mean logit difference
     * @param corruptedLogitDiff the corrupted prompts'
     * @param methods the ablation methods, in the order of {@code scores}
     * @param scores [method][layer][head], normalized logit difference
     * @param specifiedHeads the head categories compared
     * @param categoryDifference per category, per method: the seed's percentage difference from resample ablation
     * @param inductionHeads detect_head "induction_head" scores, [layer][head]
     * @param previousTokenHeads detect_head "previous_token_head" scores
     * @param duplicateTokenHeads detect_head "duplicate_token_head" scores
     */
    public record Result(String model, double originalLogitDiff, double corruptedLogitDiff, List<String> methods, double[][][] scores,
                         Map<String, List<Head>> specifiedHeads, Map<String, Map<String, Integer>> categoryDifference,
                         double[][] inductionHeads, double[][] previousTokenHeads, double[][] duplicateTokenHeads, List<String> files,
                         double seconds) {
    }

    private AblationComparison() {
    }

    public static void main(String[] args) {
        String model = Cli.option(args, "--model", "toy-ioi");
        try (Lens lens = Lens.start(Cli.engineOptions(model))) {
            run(lens, args);
        }
    }

    @SuppressWarnings("try") // the scope is used for its close()
    public static Result run(Lens lens, String[] args) {
        String modelName = Cli.option(args, "--model", "toy-ioi");
        Output out = new Output(Cli.outDir(args, "AblationComparison"));
        long start = System.nanoTime();
        try (Scope scope = lens.scope()) {
            // # Setup model and prompt to all problems
            Model model = lens.load(modelName);
            int nLayers = model.cfg().nLayers();
            int nHeads = model.cfg().nHeads();
            Print.title("Ablation experiment: zero, mean and resample ablation (seed 004) on " + modelName);
            System.out.println(model);

            // # Logit difference
            Print.step("Logit difference");
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
                    prompts.add(String.format(promptFormat[i], names[i][1 - j]));
                }
            }
            Tensor tokens = model.toTokens(prompts, true, null);
            double originalAverageLogitDiff;
            try (Tensor originalLogits = model.logits(tokens)) {
                originalAverageLogitDiff = Metrics.logitDiff(model, originalLogits, answers);
            }

            // # Activation Patching: corrupted prompts swap each pair's names
            List<String> corruptedPrompts = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i += 2) {
                corruptedPrompts.add(prompts.get(i + 1));
                corruptedPrompts.add(prompts.get(i));
            }
            Tensor corruptedTokens = model.toTokens(corruptedPrompts, true, null);
            double corruptedAverageLogitDiff;
            try (Tensor corruptedLogits = model.logits(corruptedTokens)) {
                corruptedAverageLogitDiff = Metrics.logitDiff(model, corruptedLogits, answers);
            }
            Print.line("Corrupted Average Logit Diff %.2f", corruptedAverageLogitDiff);
            Print.line("Clean Average Logit Diff %.2f", originalAverageLogitDiff);

            // # Heads of specified types: the seed's GPT-2 small table, or this model's own (from its head scores and DLA)
            Print.step("Head categories");
            int seqLen = Math.min(100, (model.cfg().nCtx() - 1) / 2);
            int[] range = RandomTokens.range(model);
            Tensor repeatedTokens = HeadDetector.repeatedRandomTokens(model, seqLen, 2, 0, range[0], range[1], false);
            Map<String, List<Head>> specifiedHeads = specifiedHeads(model, modelName, tokens, answers, repeatedTokens, seqLen);
            specifiedHeads.forEach((name, heads) -> Print.line("  %-26s %s", name, heads));

            // # Activation patching experiment: resample (patch_head_vector), zero and mean ablation of every head's z at the last position
            Print.step("Ablating every head: resample, zero, mean (normalized logit difference)");
            // Mean ablation uses the clean batch's mean z; the seed's literal .mean(dim=1) averages over d_head: MeanOver.D_HEAD.
            Ablation.Comparison comparison = Ablation.compare(model, tokens, corruptedTokens, answers, Ablation.Options.defaults()
                    .withMethods(List.of(Ablation.Method.RESAMPLE, Ablation.Method.ZERO, Ablation.Method.MEAN))
                    .withCategories(specifiedHeads));
            List<String> titles = List.of("Logit Difference From Patched Head Output", "Logit Difference From Zero Ablated Patched Head Output",
                    "Logit Difference From Mean Ablated Patched Head Output");
            for (int m = 0; m < comparison.methods().size(); m++) {
                Print.line("%s (%s):", titles.get(m), comparison.methods().get(m));
                Print.table(comparison.scores()[m], Print.layers(nLayers), Print.heads(nHeads), 7, "%.2f");
            }
            out.json("ablation_comparison", comparison);
            List<Html> views = comparison.figures(lens);
            for (int m = 0; m < views.size(); m++) {
                out.view("ablation_" + comparison.methods().get(m), views.get(m));
            }

            // # count_procentage_difference per category: resample vs zero, resample vs mean
            Print.step("Head categories compared");
            for (Map.Entry<String, Map<String, Integer>> e : comparison.categoryDifference().entrySet()) {
                Print.line("%s", e.getKey());
                for (Map.Entry<String, Integer> m : e.getValue().entrySet()) {
                    Print.line("  Percentage error between resample and %s ablation: %d%%", m.getKey(), m.getValue());
                }
            }

            // # detect_head on the repeated random tokens as text
            Print.step("detect_head scores on repeated random tokens");
            List<String> repeatedStr = new ArrayList<>();
            for (int b = 0; b < repeatedTokens.size(0); b++) {
                try (Tensor row = repeatedTokens.select(0, b)) {
                    repeatedStr.add(model.toString(row));
                }
            }
            HeadDetector.Scores inductionHeads = HeadDetector.detect(model, repeatedStr, HeadDetector.Pattern.INDUCTION_HEAD);
            HeadDetector.Scores previousTokenHeads = HeadDetector.detect(model, repeatedStr, HeadDetector.Pattern.PREVIOUS_TOKEN_HEAD);
            HeadDetector.Scores duplicateTokenHeads = HeadDetector.detect(model, repeatedStr, HeadDetector.Pattern.DUPLICATE_TOKEN_HEAD);
            Print.line("Duplicate Token Head Scores: %s", Print.best(duplicateTokenHeads.scores(), 3));
            Print.line("Previous Token Head Scores:  %s", Print.best(previousTokenHeads.scores(), 3));
            Print.line("Induction Head Scores:       %s", Print.best(inductionHeads.scores(), 3));
            out.json("detect_head_induction", inductionHeads);
            out.json("detect_head_previous_token", previousTokenHeads);
            out.json("detect_head_duplicate_token", duplicateTokenHeads);
            out.view("detect_head_duplicate_token", duplicateTokenHeads.figure(lens));
            out.view("detect_head_previous_token", previousTokenHeads.figure(lens));
            out.view("detect_head_induction", inductionHeads.figure(lens));

            // # visualize_attention_patterns of the best induction head on the first repeated sequence
            Head bestInduction = Print.ranked(inductionHeads.scores()).get(0);
            try (Tensor first = repeatedTokens.slice(0, 0L, 1L)) {
                ActivationCache repeatedCache = model.runWithCache(first, Names.only("pattern")).cache();
                try (Tensor pattern = repeatedCache.get("pattern", bestInduction.layer()); Tensor one = pattern.select(0, 0);
                     Tensor head = one.select(0, bestInduction.head())) {
                    out.view("attention_induction_head", Views.attentionHeads(lens, new float[][][] {head.toFloatArray2()},
                            model.toStrTokens(first), AttentionOptions.titled("Induction Heads").withHeadNames(List.of(bestInduction.toString()))));
                }
            }

            double seconds = (System.nanoTime() - start) / 1e9;
            List<String> files = new ArrayList<>(out.names());
            files.add("summary.json");
            Result result = new Result(modelName, originalAverageLogitDiff, corruptedAverageLogitDiff, comparison.methods(), comparison.scores(),
                    specifiedHeads, comparison.categoryDifference(), inductionHeads.scores(), previousTokenHeads.scores(),
                    duplicateTokenHeads.scores(), files, seconds);
            out.json("summary", result);
            out.printSummary();
            Print.line("Done in %.1f s.", seconds);
            return result;
        }
    }

    /**
     * The seed hardcodes GPT-2 small's heads (from the IOI paper and seed 001). For GPT-2 small
     * they are used as they are; for any other model the categories come from the model's own
     * scores: previous-token, duplicate-token and induction scores on repeated random tokens,
     * and direct logit attribution on the IOI prompts (name movers: most positive; negative
     * name movers: most negative).
     */
    private static Map<String, List<Head>> specifiedHeads(Model model, String modelName, Tensor tokens, List<AnswerPair> answers,
                                                          Tensor repeatedTokens, int seqLen) {
        Map<String, List<Head>> heads = new LinkedHashMap<>();
        if (modelName.equals("gpt2") || modelName.equals("gpt2-small")) {
            heads.put("previous token heads", List.of(Head.of(2, 2), Head.of(4, 11)));
            heads.put("duplicate token heads", List.of(Head.of(0, 1), Head.of(3, 0), Head.of(0, 10)));
            heads.put("induction heads", List.of(Head.of(5, 5), Head.of(6, 9), Head.of(5, 8), Head.of(5, 9)));
            heads.put("negative name mover heads", List.of(Head.of(10, 7), Head.of(11, 10)));
            heads.put("name mover heads", List.of(Head.of(9, 9), Head.of(9, 6), Head.of(10, 0)));
            heads.put("s-inhibition heads", List.of(Head.of(7, 3), Head.of(7, 9), Head.of(8, 6), Head.of(8, 10)));
            heads.put("backup name movers heads", List.of(Head.of(10, 10), Head.of(10, 6), Head.of(10, 2), Head.of(10, 1), Head.of(11, 2),
                    Head.of(11, 9), Head.of(11, 3), Head.of(9, 7)));
            return heads;
        }
        HeadDetector.RepeatedTokenScores scores = HeadDetector.repeatedTokenScores(model, repeatedTokens, seqLen);
        double[][] dla;
        try (var run = model.runWithCache(tokens)) {
            dla = DirectLogitAttribution.logitDiff(model, run.cache(), answers, DirectLogitAttribution.By.HEAD).headGrid();
        }
        double[][] negated = new double[dla.length][];
        for (int l = 0; l < dla.length; l++) {
            negated[l] = new double[dla[l].length];
            for (int h = 0; h < dla[l].length; h++) {
                negated[l][h] = -dla[l][h];
            }
        }
        heads.put("previous token heads", Print.ranked(scores.previousToken()).subList(0, 2));
        heads.put("duplicate token heads", Print.ranked(scores.duplicateToken()).subList(0, 2));
        heads.put("induction heads", Print.ranked(scores.induction()).subList(0, 2));
        heads.put("negative name mover heads", Print.ranked(negated).subList(0, 1));
        heads.put("name mover heads", Print.ranked(dla).subList(0, 2));
        return heads;
    }
}
