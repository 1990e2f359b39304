package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import org.lens4j.Input;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Tensor;
import org.lens4j.internal.Args;
import org.lens4j.internal.LensAccess;

/**
 * Makes {@link Metric}s, and evaluates the common ones on a logits tensor directly.
 *
 * <pre>{@code
 * Tensor logits = model.logits(prompts);                                    // [batch, pos, d_vocab]
 * List<AnswerPair> answers = AnswerPair.list(" Mary", " John", " John", " Mary");
 * double mean = Metrics.logitDiff(model, logits, answers);                  // seed 001's logits_to_ave_logit_diff
 * double[] each = Metrics.logitDiffPerPrompt(model, logits, answers);       // per_prompt=True
 * double p = Metrics.probability(model, logits, " Mary");                   // softmax at the last token, mean over prompts
 *
 * Metric metric = Metrics.normalized(Metrics.logitDiff(answers));          // for patching and ablation ops
 * Metric mine = Metrics.custom("top logit", l -> l.select(1, -1).max(-1).mean().item());
 * }</pre>
 *
 * <p>Token arguments are one-token texts or ids; a text of several tokens fails with an
 * {@link InvalidInputException} of kind NOT_SINGLE_TOKEN that shows its tokens.
 */
public final class Metrics {
    private Metrics() {
    }

    // -- metrics --------------------------------------------------------------------------

    /** The logit difference of one (correct, incorrect) pair for every prompt, at each prompt's last token, averaged over prompts. */
    public static Metric.LogitDiff logitDiff(String correct, String incorrect) {
        return logitDiff(List.of(AnswerPair.of(correct, incorrect)));
    }

    public static Metric.LogitDiff logitDiff(int correct, int incorrect) {
        return logitDiff(List.of(AnswerPair.of(correct, incorrect)));
    }

    /** The logit difference with one pair for all prompts or one pair per prompt, at the last token, averaged over prompts. */
    public static Metric.LogitDiff logitDiff(List<AnswerPair> answers) {
        return new Metric.LogitDiff(answers, Positions.last(), Metric.Reduce.MEAN);
    }

    /** {@code (m - corrupted) / (clean - corrupted)} with the ends computed by the op that runs it (patching, ablation). */
    public static Metric.Normalized normalized(Metric of) {
        return new Metric.Normalized(of, null, null);
    }

    /** {@code (m - corrupted) / (clean - corrupted)} with given ends. */
    public static Metric.Normalized normalized(Metric of, double clean, double corrupted) {
        return new Metric.Normalized(of, clean, corrupted);
    }

    /** The normalized patching metric of a value: {@code (value - corrupted) / (clean - corrupted)}. */
    public static double normalize(double value, double clean, double corrupted) {
        if (clean == corrupted) {
            throw new InvalidInputException("clean and corrupted values are equal (" + clean + "), so there is no scale to normalize by");
        }
        return (value - corrupted) / (clean - corrupted);
    }

    /** The mean next-token loss. */
    public static Metric.Loss loss() {
        return new Metric.Loss(Metric.Reduce.MEAN);
    }

    /** {@code KL(reference || run)} at the last token, averaged over prompts. */
    public static Metric.Kl kl(Tensor referenceLogits) {
        return new Metric.Kl(referenceLogits, Positions.last(), Metric.Reduce.MEAN);
    }

    /** A token's probability at the last token, averaged over prompts. */
    public static Metric.OfToken probability(Object token) {
        return new Metric.OfToken(Metric.TokenScore.PROB, List.of(nonNull(token)), Positions.last(), Metric.Reduce.MEAN);
    }

    /** A token's logit at the last token, averaged over prompts. */
    public static Metric.OfToken logit(Object token) {
        return new Metric.OfToken(Metric.TokenScore.LOGIT, List.of(nonNull(token)), Positions.last(), Metric.Reduce.MEAN);
    }

    /** A token's rank (0 = top) at the last token, averaged over prompts. */
    public static Metric.OfToken rank(Object token) {
        return new Metric.OfToken(Metric.TokenScore.RANK, List.of(nonNull(token)), Positions.last(), Metric.Reduce.MEAN);
    }

    /** One token per prompt. */
    public static Metric.OfToken ofTokens(Metric.TokenScore score, List<?> tokensPerPrompt) {
        return new Metric.OfToken(score, tokensPerPrompt == null ? null : List.copyOf(tokensPerPrompt), Positions.last(), Metric.Reduce.MEAN);
    }

    /** A Java metric giving one number for the batch; the worker calls it back with the logits. */
    public static Metric.Custom custom(String name, ToDoubleFunction<Tensor> function) {
        Objects.requireNonNull(function, "function");
        return new Metric.Custom(name, logits -> new double[] {function.applyAsDouble(logits)}, true);
    }

    /** A Java metric giving one number per prompt. */
    public static Metric.Custom customPerPrompt(String name, Function<Tensor, double[]> function) {
        return new Metric.Custom(name, function, false);
    }

    private static Object nonNull(Object token) {
        return AnswerPair.checkToken(token, "token");
    }

    // -- direct evaluation ------------------------------------------------------------------

    /** {@code logit(correct) - logit(incorrect)} at the last token, averaged over prompts. */
    public static double logitDiff(Model model, Tensor logits, String correct, String incorrect) {
        return logitDiff(correct, incorrect).evaluate(model, logits);
    }

    /** As above, one pair for all prompts or one per prompt. */
    public static double logitDiff(Model model, Tensor logits, List<AnswerPair> answers) {
        return logitDiff(answers).evaluate(model, logits);
    }

    /** The logit difference of each prompt, at its last token. */
    public static double[] logitDiffPerPrompt(Model model, Tensor logits, List<AnswerPair> answers) {
        return logitDiff(answers).perPrompt().evaluateEach(model, logits);
    }

    /** The mean next-token loss of {@code logits} on the {@code input} they came from. */
    public static double loss(Model model, Tensor logits, Input input) {
        return loss().evaluate(model, logits, Objects.requireNonNull(input, "input"));
    }

    /** As {@link #loss(Model, Tensor, Input)}, on a prompt. */
    public static double loss(Model model, Tensor logits, String input) {
        return loss(model, logits, Wire.input(input, "input"));
    }

    /** As {@link #loss(Model, Tensor, Input)}, on prompts. */
    public static double loss(Model model, Tensor logits, List<String> input) {
        return loss(model, logits, Wire.input(input, "input"));
    }

    /** As {@link #loss(Model, Tensor, Input)}, on tokens. */
    public static double loss(Model model, Tensor logits, Tensor input) {
        return loss(model, logits, Wire.input(input, "input"));
    }

    /** {@code KL(reference || logits)} at the last token, averaged over prompts. */
    public static double kl(Model model, Tensor logits, Tensor referenceLogits) {
        return kl(referenceLogits).evaluate(model, logits);
    }

    /** A token's probability at the last token, averaged over prompts. */
    public static double probability(Model model, Tensor logits, Object token) {
        return probability(token).evaluate(model, logits);
    }

    /** A token's rank at the last token of each prompt (0 = top). */
    public static int[] rank(Model model, Tensor logits, Object token) {
        return Arrays.stream(rank(token).perPrompt().evaluateEach(model, logits)).mapToInt(d -> (int) Math.round(d)).toArray();
    }

    // -- plumbing -------------------------------------------------------------------------

    static JsonNode evaluateSpec(Model model, Tensor logits, Metric metric, Input input) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(logits, "logits");
        if (logits.dim() != 3) {
            throw new InvalidInputException("logits must have shape [batch, pos, d_vocab]; got " + Arrays.toString(logits.shape()));
        }
        Lens lens = model.lens();
        try (Metric.Binding b = metric.bind(lens)) {
            Args args = Args.of("model", model.ref(), "logits", logits.ref(), "spec", b.spec(),
                    "input", input == null ? null : Wire.arg(input, "input"));
            return LensAccess.ops(lens).call("metrics.evaluate", args.map()).value();
        }
    }

    static double[] toDoubles(Lens lens, JsonNode tensorNode) {
        try (Tensor t = LensAccess.ops(lens).tensor(tensorNode)) {
            return t.toDoubleArray();
        }
    }
}
