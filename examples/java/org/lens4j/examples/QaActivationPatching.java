package org.lens4j.examples;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.lens4j.ActName;
import org.lens4j.ActivationCache;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Run;
import org.lens4j.Scope;
import org.lens4j.Tensor;
import org.lens4j.analysis.AnswerPair;
import org.lens4j.analysis.Head;
import org.lens4j.analysis.HeadDetector;
import org.lens4j.analysis.Metrics;
import org.lens4j.analysis.Patching;
import org.lens4j.hook.GenerateOptions;
import org.lens4j.hook.Generation;
import org.lens4j.hook.Hook;
import org.lens4j.viz.Figures;
import org.lens4j.viz.HeatmapOptions;
import org.lens4j.viz.Html;
import org.lens4j.viz.Views;

/**
 * Seed 000, "Q&amp;A example with TransformerLens": attention patterns of small additions,
 * clean vs corrupted logit difference ("What is the capital of France?" vs "... England?"),
 * activation patching of the residual stream by layer and position, the same on a physics
 * sentence (" gravity" vs " air") with greedy generation and the top-10 probabilities after
 * patching, and an induction score per question.
 *
 * <pre>
 * ./lens4j run QaActivationPatching [--model toy-ioi] [--out out/QaActivationPatching]
 * </pre>
 */
public final class QaActivationPatching {
    /**
     * The key numbers.
     *
     * @param cleanDiff logit(" Paris") - logit(" London") on the France prompt
     * @param corruptedDiff the same on the England prompt
     * @param patchingResult normalized logit difference, [layer][position], capital prompts
     * @param capitalTokens the France prompt's tokens
     * @param physicsCleanDiff logit(" gravity") - logit(" air") after "drop"
     * @param physicsCorruptedDiff the same after "throw"
     * @param patchingResultPhysics [layer][position], physics prompts
     * @param physicsTokens the clean physics prompt's tokens
     * @param generation the greedy continuation of the clean physics prompt (10 tokens)
     * @param topTokens the 10 most likely next tokens of the last patched run
     * @param topProbs their probabilities
     * @param questions the additions
     * @param bestInductionHeads per question, the head with the highest induction score
     * @param bestInductionScores per question, that score
     */
    public record Result(String model, double cleanDiff, double corruptedDiff, double[][] patchingResult, List<String> capitalTokens,
                         double physicsCleanDiff, double physicsCorruptedDiff, double[][] patchingResultPhysics, List<String> physicsTokens,
                         String generation, List<String> topTokens, double[] topProbs, List<String> questions, List<Head> bestInductionHeads,
                         double[] bestInductionScores, List<String> files, double seconds) {
    }

    private QaActivationPatching() {
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
        Output out = new Output(Cli.outDir(args, "QaActivationPatching"));
        long start = System.nanoTime();
        try (Scope scope = lens.scope()) {
            // # We set our model
            Model model = lens.load(modelName);
            Print.title("Q&A example: activation patching and induction scores (seed 000) on " + modelName);
            System.out.println(model);

            // # The example questions (the seed reads them from Test.json: additions)
            Print.step("Questions");
            List<String> questions = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                questions.add(i + "+" + 2 * i + "=");
            }
            Tensor questionEmbeds = model.toTokens(questions);
            Print.line("%d questions, tokens %s: %s", questions.size(), Arrays.toString(questionEmbeds.shape()), questions);

            // # vis_attn_patterns(model, questions[0], layers=[0]) and questions[1]
            for (int q = 0; q < 2; q++) {
                ActivationCache c = model.runWithCache(questions.get(q), Names.only("pattern")).cache();
                out.view("attention_question" + q + "_layer0",
                        Views.attentionPatterns(c.get("pattern", 0), model.toStrTokens(questions.get(q)), "Layer 0: " + questions.get(q)));
            }

            // # Trying activation patching
            Print.step("Activation patching: capital of France vs England");
            String cleanPrompt = "What is the capital of France?";
            String corruptedPrompt = "What is the capital of England?";
            // The seed scores "Paris" / "London" without the space (GPT-2's tokens after "?"); the
            // answer follows a space in lens4j's toy data, as in most text.
            String cleanAnswer = " Paris";
            String corruptedAnswer = " London";
            Patched capital = activationPatching(model, cleanPrompt, corruptedPrompt, cleanAnswer, corruptedAnswer);
            Print.line("Clean answer logit difference: %.4f", capital.cleanDiff);
            Print.line("Corrupted answer logit difference: %.4f", capital.corruptedDiff);
            Print.line("Patching Result (normalized: 1 = clean, 0 = corrupted):");
            Print.table(capital.result, Print.layers(capital.result.length), Print.positions(capital.tokens), 7, "%.2f");
            Print.line("At layer 0 only the country differs: patching it there restores %.2f; by the last layer the effect sits at %s (%.2f).",
                    capital.result[0][capital.tokens.indexOf(" France")], Print.tok(capital.tokens.get(argmaxAbs(capital.result[capital.result.length - 1]))),
                    capital.result[capital.result.length - 1][argmaxAbs(capital.result[capital.result.length - 1])]);
            out.json("patching_capital", capital.sweep);
            out.view("patching_capital", heatmap(lens, capital));

            // # A more complicated example: physics
            Print.step("A more complicated example: drop vs throw");
            String cleanPhysicsPrompt = "When you drop a ball, it falls to the ground because of";
            String corruptedPhysicsPrompt = "When you throw a ball, it falls to the ground because of";
            String physicsCleanAnswer = " gravity";
            String physicsCorruptedAnswer = " air";
            // model.generate(clean_physics_prompt, max_new_tokens=10, temperature=0.0, do_sample=False)
            String generation;
            try (Generation g = model.generate(cleanPhysicsPrompt, GenerateOptions.greedy(10))) {
                generation = g.text();
            }
            Print.line("Greedy generation: %s", Print.tok(generation));
            Patched physics = activationPatching(model, cleanPhysicsPrompt, corruptedPhysicsPrompt, physicsCleanAnswer, physicsCorruptedAnswer);
            Print.line("Clean answer logit difference: %.4f", physics.cleanDiff);
            Print.line("Corrupted answer logit difference: %.4f", physics.corruptedDiff);
            Print.table(physics.result, Print.layers(physics.result.length), Print.positions(physics.tokens), 7, "%.2f");
            out.json("patching_physics", physics.sweep);
            out.view("patching_physics", heatmap(lens, physics));

            // # What about the probability distribution now? The seed's last patched run: the
            // # last layer's resid_pre at the last position, patched from the clean run
            Print.step("Top-10 probabilities after patching (last layer, last position)");
            int lastLayer = model.cfg().nLayers() - 1;
            List<String> topTokens = new ArrayList<>();
            double[] topProbs;
            try (Run clean = model.runWithCache(cleanPhysicsPrompt, Names.only("resid_pre"));
                 Tensor patchedLogits = model.runWithHooks(corruptedPhysicsPrompt,
                         Hook.at(ActName.of("resid_pre", lastLayer)).positions(-1).patchFrom(clean.cache()));
                 Tensor logits = patchedLogits.select(0, 0).select(0, -1);
                 Tensor probs = logits.softmax(-1);
                 Tensor.TopK top = probs.topk(10)) {
                long[] ids = top.indices().toLongArray();
                topProbs = top.values().toDoubleArray();
                for (int i = 0; i < ids.length; i++) {
                    try (Tensor id = lens.tensor(new long[] {ids[i]}, 1)) {
                        topTokens.add(model.toString(id));
                    }
                    Print.line("%s: %.4f", Print.tok(topTokens.get(i)), topProbs[i]);
                }
            }

            // # Induction scores per question: the diagonal at offset 1 - length // 2 of every head's pattern
            Print.step("Induction score per question");
            HeadDetector.InductionScores induction = HeadDetector.inductionScores(model, questions);
            double[] best = induction.maxScore();
            for (int q = 0; q < questions.size(); q++) {
                Print.line("  %-7s best head %s  score %.3f", questions.get(q), induction.bestHeads().get(q), best[q]);
            }
            Print.line("(length %d, diagonal offset %d; the seed notes that many questions share their best head)",
                    induction.length(), induction.offset());
            out.json("induction_scores", induction);
            out.view("induction_scores", induction.figure(lens));

            double seconds = (System.nanoTime() - start) / 1e9;
            List<String> files = new ArrayList<>(out.names());
            files.add("summary.json");
            Result result = new Result(modelName, capital.cleanDiff, capital.corruptedDiff, capital.result, capital.tokens, physics.cleanDiff,
                    physics.corruptedDiff, physics.result, physics.tokens, generation, topTokens, topProbs, questions, induction.bestHeads(),
                    best, files, seconds);
            out.json("summary", result);
            out.printSummary();
            Print.line("Done in %.1f s.", seconds);
            return result;
        }
    }

    /** One activation_patching call's outcome. */
    private record Patched(double cleanDiff, double corruptedDiff, double[][] result, List<String> tokens, Patching.Result sweep) {
    }

    /**
     * The seed's {@code activation_patching}: clean and corrupted logit differences, then
     * resid_pre patched at every (layer, position), normalized by {@code (patched - corrupted) / (clean - corrupted)}.
     */
    private static Patched activationPatching(Model model, String cleanPrompt, String corruptedPrompt, String cleanAnswer,
                                              String corruptedAnswer) {
        double cleanDiff;
        double corruptedDiff;
        try (Tensor cleanLogits = model.logits(cleanPrompt); Tensor corruptedLogits = model.logits(corruptedPrompt)) {
            cleanDiff = Metrics.logitDiff(model, cleanLogits, cleanAnswer, corruptedAnswer);
            corruptedDiff = Metrics.logitDiff(model, corruptedLogits, cleanAnswer, corruptedAnswer);
        }
        Patching.Result sweep = Patching.sweep(model, cleanPrompt, corruptedPrompt,
                Metrics.normalized(Metrics.logitDiff(List.of(AnswerPair.of(cleanAnswer, corruptedAnswer))), cleanDiff, corruptedDiff),
                Patching.Kind.RESID_PRE);
        return new Patched(cleanDiff, corruptedDiff, sweep.grid(), model.toStrTokens(cleanPrompt), sweep);
    }

    /** imshow(patching_result, x=token_labels, xaxis="Position", yaxis="Layer", title="Patching Result"). */
    private static Html heatmap(Lens lens, Patched p) {
        List<String> tokenLabels = new ArrayList<>();
        for (int i = 0; i < p.tokens.size(); i++) {
            tokenLabels.add(p.tokens.get(i) + "_" + i);
        }
        return Figures.imshow(lens, p.result, HeatmapOptions.titled("Patching Result").withX(tokenLabels).withXaxis("Position")
                .withYaxis("Layer").withSharedPlotlyJs(true));
    }

    private static int argmaxAbs(double[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (Math.abs(values[i]) > Math.abs(values[best])) {
                best = i;
            }
        }
        return best;
    }
}
