package org.lens4j.batch;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.lens4j.InvalidInputException;
import org.lens4j.Model;
import org.lens4j.Scope;
import org.lens4j.Tensor;
import org.lens4j.analysis.AnswerPair;
import org.lens4j.analysis.Metric;
import org.lens4j.analysis.Metrics;
import org.lens4j.analysis.Patching;
import org.lens4j.data.ResultTable;

/**
 * Built-in {@link PromptMeasure}s. Each runs the model once per chunk on the right-padded
 * batch of prompts and reads each prompt at its own last token.
 *
 * <pre>{@code
 * List<PromptResult> rows = PromptBatch.run(model, prompts, PromptMeasures.logitDiff(), PromptBatch.Options.defaults());
 * }</pre>
 */
public final class PromptMeasures {
    /** Measure names of {@link #logitDiff()}. */
    public static final String LOGIT_DIFF_CLEAN = "logit_diff_clean";
    public static final String LOGIT_DIFF_CORRUPTED = "logit_diff_corrupted";

    private PromptMeasures() {
    }

    /**
     * {@code logit(correct) - logit(incorrect)} at each prompt's last token, on the clean prompt
     * ({@value #LOGIT_DIFF_CLEAN}) and, where the record has one, on the corrupted prompt
     * ({@value #LOGIT_DIFF_CORRUPTED}): seed 001's per-prompt logit difference. Rows come
     * prompt by prompt, so their order does not depend on the chunk size.
     */
    public static PromptMeasure logitDiff() {
        return (model, chunk) -> {
            double[] clean = logitDiffs(model, chunk, PromptRecord::clean);
            List<PromptRecord> withCorrupted = chunk.stream().filter(p -> p.corrupted() != null).toList();
            double[] corrupted = withCorrupted.isEmpty() ? new double[0] : logitDiffs(model, withCorrupted, PromptRecord::corrupted);
            List<PromptResult> rows = new ArrayList<>();
            int c = 0;
            for (int i = 0; i < chunk.size(); i++) {
                PromptRecord p = chunk.get(i);
                rows.add(PromptResult.of(p.id(), LOGIT_DIFF_CLEAN, clean[i]));
                if (p.corrupted() != null) {
                    rows.add(PromptResult.of(p.id(), LOGIT_DIFF_CORRUPTED, corrupted[c++]));
                }
            }
            return rows;
        };
    }

    /** The mean next-token loss of each clean prompt ("loss"). */
    public static PromptMeasure loss() {
        return (model, chunk) -> chunk.stream().map(p -> PromptResult.of(p.id(), "loss", model.loss(p.clean()))).toList();
    }

    /**
     * An activation patching sweep per prompt pair ("patching/" + the kind, e.g.
     * "patching/resid_pre"): the normalized logit difference with each cell's clean activation
     * patched into the corrupted run, one row per cell (layer, position or head, the clean
     * prompt's token as label), as {@link Patching#sweep} and {@link ResultTable#of(ResultTable.Source)}
     * give them. Each record needs a corrupted prompt of the same token length, and answers.
     */
    public static PromptMeasure patching(Patching.Kind kind) {
        return perPair("patching/", kind, Patching::sweep);
    }

    /**
     * {@link #patching}'s rows estimated by attribution patching ("attribution/" + the kind):
     * {@link Patching#attribution} per prompt pair, about three forwards per pair instead of one
     * per cell. A screen over many prompts; confirm what it finds with {@link #patching}.
     */
    public static PromptMeasure attribution(Patching.Kind kind) {
        return perPair("attribution/", kind, Patching::attribution);
    }

    /** A grid analysis of one prompt pair, as Patching's sweep and attribution are. */
    private interface PairGrid extends Serializable {
        Patching.Result run(Model model, String clean, String corrupted, Metric metric, Patching.Kind kind);
    }

    private static PromptMeasure perPair(String prefix, Patching.Kind kind, PairGrid grid) {
        Objects.requireNonNull(kind, "kind");
        String measure = prefix + kind.wire();
        return (model, chunk) -> {
            List<PromptResult> rows = new ArrayList<>();
            for (PromptRecord p : chunk) {
                if (p.corrupted() == null) {
                    throw new InvalidInputException("prompt record '" + p.id() + "' has no corrupted prompt; " + measure + " needs one");
                }
                Metric metric = Metrics.normalized(Metrics.logitDiff(answers(List.of(p))));
                rows.addAll(PromptResult.of(p.id(), measure, ResultTable.of(grid.run(model, p.clean(), p.corrupted(), metric, kind))));
            }
            return rows;
        };
    }

    /** One model run on the right-padded batch; each prompt read at its own last token. */
    private static double[] logitDiffs(Model model, List<PromptRecord> records, Function<PromptRecord, String> text) {
        List<AnswerPair> answers = answers(records);
        List<String> prompts = records.stream().map(text).toList();
        try (Scope scope = model.lens().scope()) {
            Tensor logits = model.logits(prompts);
            return Metrics.logitDiff(answers).perPrompt().evaluateEach(model, logits, prompts);
        }
    }

    private static List<AnswerPair> answers(List<PromptRecord> chunk) {
        List<AnswerPair> answers = new ArrayList<>();
        for (PromptRecord p : chunk) {
            if (!p.hasAnswers()) {
                throw new InvalidInputException("prompt record '" + p.id() + "' has no answers; the logit difference needs correct and incorrect");
            }
            answers.add(AnswerPair.of(p.correct(), p.incorrect()));
        }
        return answers;
    }
}
