package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.lens4j.Input;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Slice;
import org.lens4j.Tensor;
import org.lens4j.internal.Args;
import org.lens4j.internal.LensAccess;

/**
 * A function of a run's logits that an analysis scores runs with: the logit difference, the
 * normalized patching metric, the loss, KL to reference logits, a token's probability, logit or
 * rank, or Java code of your own. A metric is a description (the worker's metric spec, see
 * docs/metrics-spec.md); it runs in Python where the logits are, except {@link Custom}, which
 * the worker calls back into Java for. Make metrics with {@link Metrics}.
 *
 * <pre>{@code
 * Tensor logits = model.logits(prompts);
 * Metric.LogitDiff diff = Metrics.logitDiff(" Mary", " John");          // mean over prompts, last token
 * double value = diff.evaluate(model, logits);
 * double[] each = diff.perPrompt().evaluateEach(model, logits);
 * Metric score = Metrics.normalized(diff, 3.2, -0.4);                  // (x - corrupted) / (clean - corrupted)
 * }</pre>
 */
public sealed interface Metric permits Metric.LogitDiff, Metric.Normalized, Metric.Loss, Metric.Kl, Metric.OfToken, Metric.Custom {

    /** How a metric combines its prompts: their mean (one number), or one value per prompt. */
    enum Reduce {
        MEAN, NONE;

        String wire() {
            return this == MEAN ? "mean" : "none";
        }
    }

    /** What {@link OfToken} reads of its token. */
    enum TokenScore {
        /** softmax probability */
        PROB,
        /** raw logit */
        LOGIT,
        /** rank among all tokens, 0 = top (ties rank as the best of them) */
        RANK;

        String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * The worker's JSON spec of this metric. Custom metrics are registered with {@code binding}
     * (so that the worker can call them); most code uses {@link #bind(Lens)} instead.
     */
    Map<String, Object> toSpec(Binding binding);

    /** Whether this metric gives one number for the batch (as patching and ablation need) rather than one per prompt. */
    boolean isScalar();

    /**
     * This metric made ready for an op: its spec, with any Java metric registered for callbacks
     * until the binding is closed.
     *
     * <pre>{@code
     * try (Metric.Binding b = metric.bind(lens)) {
     *     LensAccess.ops(lens).call("metrics.evaluate", Args.of("model", model.ref(), "logits", logits.ref(), "spec", b.spec()).map());
     * }
     * }</pre>
     */
    default Binding bind(Lens lens) {
        Binding b = new Binding(Objects.requireNonNull(lens, "lens"));
        try {
            b.spec = toSpec(b);
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
        return b;
    }

    /** The value on {@code logits} [batch, pos, d_vocab]; only for metrics that give one number ({@link Reduce#MEAN}). */
    default double evaluate(Model model, Tensor logits) {
        return evaluate(model, logits, (Input) null);
    }

    /**
     * As {@link #evaluate(Model, Tensor)}, with the input the logits came from: it tells each
     * prompt's last real token in a right-padded batch, and gives {@link Loss} its targets
     * (a null {@code Input} is the same as none).
     */
    default double evaluate(Model model, Tensor logits, Input input) {
        if (!isScalar()) {
            throw new InvalidInputException("this metric gives one value per prompt (" + this + "): use evaluateEach");
        }
        JsonNode v = Metrics.evaluateSpec(model, logits, this, input);
        if (v.isNumber()) {
            return v.asDouble();
        }
        double[] values = Metrics.toDoubles(model.lens(), v);
        if (values.length != 1) {
            throw new InvalidInputException("the metric gave " + values.length + " values, not one: use evaluateEach");
        }
        return values[0];
    }

    /** As {@link #evaluate(Model, Tensor, Input)}, on a prompt. */
    default double evaluate(Model model, Tensor logits, String input) {
        return evaluate(model, logits, Wire.input(input, "input"));
    }

    /** As {@link #evaluate(Model, Tensor, Input)}, on prompts. */
    default double evaluate(Model model, Tensor logits, List<String> input) {
        return evaluate(model, logits, Wire.input(input, "input"));
    }

    /** As {@link #evaluate(Model, Tensor, Input)}, on tokens. */
    default double evaluate(Model model, Tensor logits, Tensor input) {
        return evaluate(model, logits, Wire.input(input, "input"));
    }

    /** The values on {@code logits}: one per prompt for {@link Reduce#NONE}, a single value otherwise. */
    default double[] evaluateEach(Model model, Tensor logits) {
        return evaluateEach(model, logits, (Input) null);
    }

    /** As {@link #evaluateEach(Model, Tensor)}, with the input the logits came from (see {@link #evaluate(Model, Tensor, Input)}). */
    default double[] evaluateEach(Model model, Tensor logits, Input input) {
        JsonNode v = Metrics.evaluateSpec(model, logits, this, input);
        return v.isNumber() ? new double[] {v.asDouble()} : Metrics.toDoubles(model.lens(), v);
    }

    /** As {@link #evaluateEach(Model, Tensor, Input)}, on a prompt. */
    default double[] evaluateEach(Model model, Tensor logits, String input) {
        return evaluateEach(model, logits, Wire.input(input, "input"));
    }

    /** As {@link #evaluateEach(Model, Tensor, Input)}, on prompts. */
    default double[] evaluateEach(Model model, Tensor logits, List<String> input) {
        return evaluateEach(model, logits, Wire.input(input, "input"));
    }

    /** As {@link #evaluateEach(Model, Tensor, Input)}, on tokens. */
    default double[] evaluateEach(Model model, Tensor logits, Tensor input) {
        return evaluateEach(model, logits, Wire.input(input, "input"));
    }

    /**
     * {@code logit(correct) - logit(incorrect)} at the read positions, averaged over them; then
     * averaged over prompts ({@link Reduce#MEAN}) or one value per prompt. This is seed 001's
     * {@code logits_to_ave_logit_diff}.
     *
     * <pre>{@code
     * Metric.LogitDiff m = Metrics.logitDiff(answers).at(Slice.indices(-1, -2)).perPrompt();
     * }</pre>
     *
     * @param answers one pair for every prompt, or one pair per prompt
     * @param positions where to read (default {@link Positions#last()}; the same for every prompt: {@link #at(Slice)})
     */
    record LogitDiff(List<AnswerPair> answers, Positions positions, Reduce reduce) implements Metric {
        public LogitDiff {
            AnswerPair.wire(answers);
            answers = List.copyOf(answers);
            positions = positions == null ? Positions.last() : positions;
            reduce = reduce == null ? Reduce.MEAN : reduce;
        }

        /** Read the same positions of every prompt; {@code at(Slice.at(-1))} is the last column. */
        public LogitDiff at(Slice where) {
            return at(Positions.of(where));
        }

        /** Read each prompt's last real token ({@link Positions#last()}) or each prompt's own positions. */
        public LogitDiff at(Positions where) {
            return new LogitDiff(answers, where, reduce);
        }

        /** One value per prompt ({@code per_prompt=True} in the seeds). */
        public LogitDiff perPrompt() {
            return new LogitDiff(answers, positions, Reduce.NONE);
        }

        public LogitDiff averaged() {
            return new LogitDiff(answers, positions, Reduce.MEAN);
        }

        @Override
        public Map<String, Object> toSpec(Binding binding) {
            return spec("logit_diff", "answers", AnswerPair.wire(answers), "positions", positions.wire(), "reduce", reduce.wire());
        }

        @Override
        public boolean isScalar() {
            return reduce == Reduce.MEAN;
        }
    }

    /**
     * The normalized patching metric {@code (m - corrupted) / (clean - corrupted)} of another
     * metric {@code m}: 1 where the clean behaviour is restored, 0 where it is the corrupted one.
     * With null ends, patching and ablation ops fill them in from their clean and corrupted runs.
     *
     * <pre>{@code
     * Metric.Normalized m = Metrics.normalized(Metrics.logitDiff(" Mary", " John"));   // ends filled in by the op
     * }</pre>
     *
     * <pre>{@code
     * double loss = Metrics.loss().evaluate(model, logits, prompts);
     * }</pre>
     */
    record Normalized(Metric of, Double clean, Double corrupted) implements Metric {
        public Normalized {
            if (of == null) {
                throw new InvalidInputException("a normalized metric needs the metric it normalizes");
            }
            if (of instanceof Normalized) {
                throw new InvalidInputException("a normalized metric cannot normalize another normalized metric");
            }
            if ((clean == null) != (corrupted == null)) {
                throw new InvalidInputException("give both the clean and the corrupted value, or neither (to let the op compute them)");
            }
            if (clean != null && clean.doubleValue() == corrupted.doubleValue()) {
                throw new InvalidInputException("clean and corrupted values are equal (" + clean + "), so there is no scale to normalize by");
            }
        }

        @Override
        public Map<String, Object> toSpec(Binding binding) {
            return spec("normalized", "of", of.toSpec(binding), "clean", clean, "corrupted", corrupted);
        }

        @Override
        public boolean isScalar() {
            return of.isScalar();
        }
    }

    /** The mean next-token cross-entropy loss (over positions, and prompts unless per prompt); needs the input. */
    record Loss(Reduce reduce) implements Metric {
        public Loss {
            reduce = reduce == null ? Reduce.MEAN : reduce;
        }

        public Loss perPrompt() {
            return new Loss(Reduce.NONE);
        }

        @Override
        public Map<String, Object> toSpec(Binding binding) {
            return spec("loss", "reduce", reduce.wire());
        }

        @Override
        public boolean isScalar() {
            return reduce == Reduce.MEAN;
        }
    }

    /**
     * {@code KL(reference || run)} at the read positions: {@code sum p_ref (log p_ref - log p_run)}.
     *
     * <pre>{@code
     * double kl = Metrics.kl(cleanLogits).at(Slice.all()).evaluate(model, patchedLogits);
     * }</pre>
     *
     * @param reference logits [batch, pos, d_vocab] (read at the same positions) or [batch, d_vocab]
     */
    record Kl(Tensor reference, Positions positions, Reduce reduce) implements Metric {
        public Kl {
            Objects.requireNonNull(reference, "reference");
            positions = positions == null ? Positions.last() : positions;
            reduce = reduce == null ? Reduce.MEAN : reduce;
        }

        /** Read the same positions of every prompt; {@code at(Slice.at(-1))} is the last column. */
        public Kl at(Slice where) {
            return at(Positions.of(where));
        }

        /** Read each prompt's last real token ({@link Positions#last()}) or each prompt's own positions. */
        public Kl at(Positions where) {
            return new Kl(reference, where, reduce);
        }

        public Kl perPrompt() {
            return new Kl(reference, positions, Reduce.NONE);
        }

        @Override
        public Map<String, Object> toSpec(Binding binding) {
            return spec("kl", "reference", reference.ref(), "positions", positions.wire(), "reduce", reduce.wire());
        }

        @Override
        public boolean isScalar() {
            return reduce == Reduce.MEAN;
        }
    }

    /**
     * A token's probability, logit or rank at the read positions.
     *
     * <pre>{@code
     * double[] p = Metrics.probability(" Paris").perPrompt().evaluateEach(model, logits);
     * }</pre>
     *
     * @param tokens one token (text or id) for every prompt, or one per prompt
     */
    record OfToken(TokenScore score, List<Object> tokens, Positions positions, Reduce reduce) implements Metric {
        public OfToken {
            Objects.requireNonNull(score, "score");
            if (tokens == null || tokens.isEmpty()) {
                throw new InvalidInputException("give the token to score: one for all prompts, or one per prompt");
            }
            List<Object> checked = new ArrayList<>();
            for (Object t : tokens) {
                checked.add(AnswerPair.checkToken(t, "token"));
            }
            tokens = List.copyOf(checked);
            positions = positions == null ? Positions.last() : positions;
            reduce = reduce == null ? Reduce.MEAN : reduce;
        }

        /** Read the same positions of every prompt; {@code at(Slice.at(-1))} is the last column. */
        public OfToken at(Slice where) {
            return at(Positions.of(where));
        }

        /** Read each prompt's last real token ({@link Positions#last()}) or each prompt's own positions. */
        public OfToken at(Positions where) {
            return new OfToken(score, tokens, where, reduce);
        }

        public OfToken perPrompt() {
            return new OfToken(score, tokens, positions, Reduce.NONE);
        }

        @Override
        public Map<String, Object> toSpec(Binding binding) {
            return spec(score.wire(), "token", tokens.size() == 1 ? tokens.get(0) : tokens, "positions", positions.wire(),
                    "reduce", reduce.wire());
        }

        @Override
        public boolean isScalar() {
            return reduce == Reduce.MEAN;
        }
    }

    /**
     * Your own metric, in Java: a function of the logits [batch, pos, d_vocab] (a tensor handle
     * valid during the call) that returns one number, or one per prompt. The worker calls it
     * back for every run it scores; each call is a round trip, so prefer the built-in metrics
     * in long sweeps.
     *
     * <pre>{@code
     * Metric.Custom m = Metrics.custom("last logit mean", l -> l.select(1, -1).mean().item());
     * }</pre>
     */
    record Custom(String name, Function<Tensor, double[]> function, boolean isScalar) implements Metric {
        public Custom {
            Objects.requireNonNull(function, "function");
            name = name == null || name.isBlank() ? "custom" : name;
        }

        @Override
        public Map<String, Object> toSpec(Binding binding) {
            return spec("java", "id", binding.register(this));
        }

        @Override
        public String toString() {
            return "Metric.Custom[" + name + (isScalar ? "" : ", per prompt") + "]";
        }
    }

    /**
     * A metric's spec for one op call, with its Java metrics registered for callbacks; close it
     * after the call to unregister them.
     *
     * <pre>{@code
     * try (Metric.Binding b = Metrics.custom("m", l -> 0.0).bind(lens)) { System.out.println(b.spec()); }
     * }</pre>
     */
    final class Binding implements AutoCloseable {
        private final Lens lens;
        private final List<Long> ids = new ArrayList<>();
        private Map<String, Object> spec;

        Binding(Lens lens) {
            this.lens = lens;
        }

        /** The JSON spec to pass as an op's {@code metric} argument. */
        public Map<String, Object> spec() {
            return spec;
        }

        long register(Custom metric) {
            long id = LensAccess.ops(lens).register((args, blobs) -> {
                try (Tensor logits = LensAccess.ops(lens).tensor(args.get("logits"))) {
                    double[] values = metric.function().apply(logits);
                    if (values == null || values.length == 0) {
                        throw new IllegalStateException("Java metric '" + metric.name() + "' returned no value");
                    }
                    if (metric.isScalar() && values.length != 1) {
                        throw new IllegalStateException("Java metric '" + metric.name() + "' is scalar but returned " + values.length + " values");
                    }
                    if (metric.isScalar()) {
                        return values[0];
                    }
                    List<Double> list = new ArrayList<>(values.length);
                    for (double d : values) {
                        list.add(d);
                    }
                    return list;
                }
            });
            ids.add(id);
            return id;
        }

        @Override
        public void close() {
            for (long id : ids) {
                LensAccess.ops(lens).unregister(id);
            }
            ids.clear();
        }
    }

    private static Map<String, Object> spec(String type, Object... keysAndValues) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("type", type);
        out.putAll(Args.of(keysAndValues).map());
        return out;
    }
}
