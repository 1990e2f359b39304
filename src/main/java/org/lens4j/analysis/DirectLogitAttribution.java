package org.lens4j.analysis;

import org.lens4j.internal.LensAccess;
import org.lens4j.internal.Args;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.lens4j.ActivationCache;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Slice;
import org.lens4j.Tensor;
import org.lens4j.viz.Figures;
import org.lens4j.viz.HeatmapOptions;
import org.lens4j.viz.Html;
import org.lens4j.viz.LineOptions;
import org.lens4j.viz.ScatterOptions;

/**
 * Direct logit attribution: TransformerLens' ActivationCache methods that split the residual
 * stream into components (with their labels), and seed 001's attribution of the logit
 * difference to layers, heads and components.
 *
 * <pre>{@code
 * Run run = model.runWithCache(prompts);
 * List<AnswerPair> answers = AnswerPair.list(" Mary", " John", " John", " Mary");
 * DirectLogitAttribution.Attribution perHead = DirectLogitAttribution.logitDiff(model, run.cache(), answers, DirectLogitAttribution.By.HEAD);
 * double[][] grid = perHead.headGrid();                 // [layer][head], seed 001's per_head_logit_diffs
 * try (DirectLogitAttribution.LabelledStack acc = DirectLogitAttribution.accumulatedResid(run.cache(),
 *         DirectLogitAttribution.Options.defaults().withLayer(-1).withInclMid(true).withPosSlice(Slice.at(-1)))) {
 *     System.out.println(acc.labels());                 // [0_pre, 0_mid, 1_pre, 1_mid, final_post]
 *     Tensor scaled = DirectLogitAttribution.applyLnToStack(run.cache(), acc.stack(),
 *             DirectLogitAttribution.Options.defaults().withLayer(-1).withPosSlice(Slice.at(-1)));
 * }
 * }</pre>
 *
 * <pre>{@code
 * try (DirectLogitAttribution.LabelledStack s = DirectLogitAttribution.decomposeResid(cache, DirectLogitAttribution.Options.defaults())) { System.out.println(s.labels()); }
 * }</pre>
 */
public final class DirectLogitAttribution {
    private DirectLogitAttribution() {
    }

    /** A stack of residual components [components, batch, (pos,) d_model] with a label per component. Closing it frees the tensor. */
    public record LabelledStack(Tensor stack, List<String> labels) implements AutoCloseable {
        @Override
        public void close() {
            stack.close();
        }
    }

    /** Which parts {@code decompose_resid} returns. */
    public enum Mode {
        ALL, MLP, ATTN;

        String wire() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * The cache methods' arguments, named as TransformerLens names them; each method reads the
     * ones it takes (see its Javadoc) and ignores the rest.
     *
     * <pre>{@code
     * DirectLogitAttribution.Options o = DirectLogitAttribution.Options.defaults().withLayer(-1).withPosSlice(Slice.at(-1)).withApplyLn(true);
     * }</pre>
     *
     * @param layer the layer whose input to stop at (0..n_layers), or -1 / null for the unembed (all layers)
     * @param posSlice positions to keep (null: all)
     * @param applyLn apply the layer norm of {@code layer} (cached scale)
     * @param mlpInput stop at the MLP input of {@code layer} instead of the attention input
     * @param inclMid accumulated_resid: also the residual stream between attention and MLP
     * @param mode decompose_resid: which components
     * @param inclEmbeds decompose_resid: include the embeddings
     * @param inclRemainder stack_head_results: add the rest of the residual stream as a component
     * @param expandNeurons get_full_resid_decomposition: one component per MLP neuron
     * @param recomputeLn apply_ln_to_stack: normalize with each component's own statistics
     * @param batchSlice apply_ln_to_stack, logit_attrs: prompts to keep (null: all)
     * @param hasBatchDim apply_ln_to_stack, logit_attrs: whether the stack has a batch axis
     */
    public record Options(Integer layer, Slice posSlice, boolean applyLn, boolean mlpInput, boolean inclMid, Mode mode,
                          boolean inclEmbeds, boolean inclRemainder, boolean expandNeurons, boolean recomputeLn, Slice batchSlice,
                          boolean hasBatchDim) {
        public Options {
            mode = mode == null ? Mode.ALL : mode;
        }

        /** TransformerLens' defaults. */
        public static Options defaults() {
            return new Options(null, null, false, false, false, Mode.ALL, true, false, true, false, null, true);
        }

        public Options withLayer(Integer value) {
            return with(b -> b.layer = value);
        }

        public Options withPosSlice(Slice value) {
            return with(b -> b.posSlice = value);
        }

        public Options withApplyLn(boolean value) {
            return with(b -> b.applyLn = value);
        }

        public Options withMlpInput(boolean value) {
            return with(b -> b.mlpInput = value);
        }

        public Options withInclMid(boolean value) {
            return with(b -> b.inclMid = value);
        }

        public Options withMode(Mode value) {
            return with(b -> b.mode = value);
        }

        public Options withInclEmbeds(boolean value) {
            return with(b -> b.inclEmbeds = value);
        }

        public Options withInclRemainder(boolean value) {
            return with(b -> b.inclRemainder = value);
        }

        public Options withExpandNeurons(boolean value) {
            return with(b -> b.expandNeurons = value);
        }

        public Options withRecomputeLn(boolean value) {
            return with(b -> b.recomputeLn = value);
        }

        public Options withBatchSlice(Slice value) {
            return with(b -> b.batchSlice = value);
        }

        public Options withHasBatchDim(boolean value) {
            return with(b -> b.hasBatchDim = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
        private Options with(java.util.function.Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new Options(b.layer, b.posSlice, b.applyLn, b.mlpInput, b.inclMid, b.mode, b.inclEmbeds, b.inclRemainder,
                    b.expandNeurons, b.recomputeLn, b.batchSlice, b.hasBatchDim);
        }

        private static final class Builder {
            Integer layer;
            Slice posSlice;
            boolean applyLn;
            boolean mlpInput;
            boolean inclMid;
            Mode mode;
            boolean inclEmbeds;
            boolean inclRemainder;
            boolean expandNeurons;
            boolean recomputeLn;
            Slice batchSlice;
            boolean hasBatchDim;

            Builder(Options o) {
                layer = o.layer; posSlice = o.posSlice; applyLn = o.applyLn; mlpInput = o.mlpInput; inclMid = o.inclMid;
                mode = o.mode; inclEmbeds = o.inclEmbeds; inclRemainder = o.inclRemainder; expandNeurons = o.expandNeurons;
                recomputeLn = o.recomputeLn; batchSlice = o.batchSlice; hasBatchDim = o.hasBatchDim;
            }
        }
    }

    // -- the cache methods ------------------------------------------------------------------

    /** {@code cache.accumulated_resid(layer, incl_mid, apply_ln, pos_slice, mlp_input, return_labels=True)}. */
    public static LabelledStack accumulatedResid(ActivationCache cache, Options o) {
        return stack(cache, "analysis.accumulated_resid", Args.of("layer", o.layer(), "incl_mid", o.inclMid(), "apply_ln", o.applyLn(),
                "pos_slice", Wire.slice(o.posSlice()), "mlp_input", o.mlpInput()));
    }

    /** {@code cache.decompose_resid(layer, mlp_input, mode, apply_ln, pos_slice, incl_embeds, return_labels=True)}. */
    public static LabelledStack decomposeResid(ActivationCache cache, Options o) {
        return stack(cache, "analysis.decompose_resid", Args.of("layer", o.layer(), "mlp_input", o.mlpInput(), "mode", o.mode().wire(),
                "apply_ln", o.applyLn(), "pos_slice", Wire.slice(o.posSlice()), "incl_embeds", o.inclEmbeds()));
    }

    /** {@code cache.stack_head_results(layer, return_labels=True, incl_remainder, pos_slice, apply_ln)}; labels L0H0, ... */
    public static LabelledStack stackHeadResults(ActivationCache cache, Options o) {
        return stack(cache, "analysis.stack_head_results", Args.of("layer", o.layer(), "incl_remainder", o.inclRemainder(),
                "pos_slice", Wire.slice(o.posSlice()), "apply_ln", o.applyLn()));
    }

    /** {@code cache.get_full_resid_decomposition(layer, mlp_input, expand_neurons, apply_ln, pos_slice, return_labels=True)}. */
    public static LabelledStack getFullResidDecomposition(ActivationCache cache, Options o) {
        return stack(cache, "analysis.get_full_resid_decomposition", Args.of("layer", o.layer(), "mlp_input", o.mlpInput(),
                "expand_neurons", o.expandNeurons(), "apply_ln", o.applyLn(), "pos_slice", Wire.slice(o.posSlice())));
    }

    /** {@code cache.apply_ln_to_stack(residual_stack, layer, mlp_input, pos_slice, batch_slice, has_batch_dim, recompute_ln)}. */
    public static Tensor applyLnToStack(ActivationCache cache, Tensor residualStack, Options o) {
        Objects.requireNonNull(residualStack, "residualStack");
        JsonNode v = call(cache, "analysis.apply_ln_to_stack", Args.of("residual_stack", residualStack.ref(), "layer", o.layer(),
                "mlp_input", o.mlpInput(), "pos_slice", Wire.slice(o.posSlice()), "batch_slice", Wire.slice(o.batchSlice()),
                "has_batch_dim", o.hasBatchDim(), "recompute_ln", o.recomputeLn()));
        return LensAccess.ops(cache.lens()).tensor(v.get("stack"));
    }

    /**
     * {@code cache.logit_attrs(residual_stack, tokens, incorrect_tokens, pos_slice, batch_slice, has_batch_dim)}.
     *
     * @param tokens a one-token text, a token id, a list of them (one per prompt) or a token tensor
     * @param incorrectTokens the same, or null for the plain logit attribution of {@code tokens}
     */
    public static Tensor logitAttrs(ActivationCache cache, Tensor residualStack, Object tokens, Object incorrectTokens, Options o) {
        Objects.requireNonNull(residualStack, "residualStack");
        JsonNode v = call(cache, "analysis.logit_attrs", Args.of("residual_stack", residualStack.ref(), "tokens", tokenArg(tokens, "tokens"),
                "incorrect_tokens", incorrectTokens == null ? null : tokenArg(incorrectTokens, "incorrectTokens"),
                "pos_slice", Wire.slice(o.posSlice()), "batch_slice", Wire.slice(o.batchSlice()), "has_batch_dim", o.hasBatchDim()));
        return LensAccess.ops(cache.lens()).tensor(v.get("attrs"));
    }

    private static Object tokenArg(Object tokens, String what) {
        if (tokens instanceof Tensor t) {
            return t.ref();
        }
        if (tokens instanceof List<?> list) {
            if (list.isEmpty()) {
                throw new InvalidInputException(what + " is an empty list");
            }
            return list.stream().map(x -> AnswerPair.checkToken(x, what)).toList();
        }
        return AnswerPair.checkToken(tokens, what);
    }

    private static LabelledStack stack(ActivationCache cache, String op, Args args) {
        JsonNode v = call(cache, op, args);
        return new LabelledStack(LensAccess.ops(cache.lens()).tensor(v.get("stack")), Wire.strings(v.get("labels")));
    }

    private static JsonNode call(ActivationCache cache, String op, Args args) {
        Objects.requireNonNull(cache, "cache");
        return LensAccess.ops(cache.lens()).call(op, args.put("cache", cache.ref()).map()).value();
    }

    // -- seed 001: attribution of the logit difference ----------------------------------------

    /** Which residual stack the logit difference is attributed to. */
    public enum By {
        /** decompose_resid: embed, pos_embed, then each layer's attn_out and mlp_out */
        LAYER,
        /** stack_head_results: each head (seed 001's per-head DLA) */
        HEAD,
        /** get_full_resid_decomposition(expand_neurons=False): heads, MLPs, embeddings, bias; these add up to the logit difference */
        COMPONENT,
        /**
         * accumulated_resid(incl_mid=...): the logit lens of the logit difference (seed 001's line plot); incl_mid is true
         * where the blocks have a residual between attention and MLP, false where they run in parallel (GPT-NeoX, Phi),
         * or as given to {@link #logitDiff(Model, ActivationCache, List, By, int, Boolean)}
         */
        ACCUMULATED;

        String wire() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Seed 001's {@code residual_stack_to_logit_diff} of a stack: each component's share of the
     * logit difference, through the final layer norm's cached scale.
     *
     * <pre>{@code
     * double[][] perHead = DirectLogitAttribution.logitDiff(model, cache, answers, DirectLogitAttribution.By.HEAD).headGrid();
     * }</pre>
     *
     * @param by the stack ("layer", "head", "component", "accumulated")
     * @param labels one per component (L0H3 for heads)
     * @param values the mean over prompts, one per component (for heads, row-major: L0H0, L0H1, ...)
     * @param perPrompt [component][prompt]
     * @param logitDiff the average logit difference computed from the final residual stream by the same formula
     * @param answerTokenIds [prompt][correct, incorrect]
     * @param nLayers the model's layers
     * @param nHeads the model's heads per layer
     * @param outputTransform the transform the model applies to its logits after the unembedding (Gemma 2's final
     *     soft-cap), in words; DLA is linear and stops before it, so {@code logitDiff} is the difference before it. Null
     *     where the unembedding is the model's output
     */
    public record Attribution(String by, List<String> labels, double[] values, double[][] perPrompt, double logitDiff,
                              int[][] answerTokenIds, int nLayers, int nHeads, String outputTransform) {

        /** An attribution of a model without a post-unembedding transform. */
        public Attribution(String by, List<String> labels, double[] values, double[][] perPrompt, double logitDiff,
                           int[][] answerTokenIds, int nLayers, int nHeads) {
            this(by, labels, values, perPrompt, logitDiff, answerTokenIds, nLayers, nHeads, null);
        }

        /** The per-head values as [layer][head] (only for {@link By#HEAD}). */
        public double[][] headGrid() {
            if (!"head".equals(by)) {
                throw new IllegalStateException("a head grid needs an attribution by head; this one is by " + by);
            }
            double[][] out = new double[nLayers][nHeads];
            for (int l = 0; l < nLayers; l++) {
                System.arraycopy(values, l * nHeads, out[l], 0, nHeads);
            }
            return out;
        }

        /**
         * Seed 001's plots: by head a layer x head heatmap (RdBu around 0), otherwise a line over
         * the components labelled as TransformerLens labels them ("0_pre", "9_attn_out", ...).
         */
        public Html figure(Lens lens) {
            String title = "Logit difference attribution by " + by;
            if ("head".equals(by)) {
                return Figures.imshow(lens, headGrid(), HeatmapOptions.titled(title).withXaxis("Head").withYaxis("Layer").withCaxis("logit diff"));
            }
            return Figures.line(lens, values, LineOptions.titled(title).withX(labels).withXaxis("Component").withYaxis("Logit diff"));
        }

        /**
         * Seed 001's scatter of this attribution (x) against another of the same components (y),
         * such as per-head DLA before and after ablating a head; hover shows the labels.
         */
        public Html scatterAgainst(Lens lens, Attribution other, String xTitle, String yTitle) {
            Objects.requireNonNull(other, "other");
            if (!labels.equals(other.labels())) {
                throw new InvalidInputException("the attributions have different components: " + labels.size() + " vs " + other.labels().size()
                        + " (by " + by + " and " + other.by() + ")");
            }
            return Figures.scatter(lens, values, other.values(), ScatterOptions.titled(yTitle + " vs " + xTitle)
                    .withHoverNames(labels).withXaxis(xTitle).withYaxis(yTitle));
        }

        /** The value of the component with this label (such as "L9H9" or "9_attn_out"). */
        public double value(String label) {
            int i = labels.indexOf(label);
            if (i < 0) {
                throw new InvalidInputException("no component labelled '" + label + "'; labels: " + labels);
            }
            return values[i];
        }

        /** The {@code k} components with the largest values, largest first, as "label=value". */
        public List<String> top(int k) {
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < values.length; i++) {
                order.add(i);
            }
            order.sort(Comparator.comparingDouble((Integer i) -> values[i]).reversed());
            return order.stream().limit(Math.max(0, k)).map(i -> labels.get(i) + "=" + String.format(Locale.ROOT, "%.4f", values[i])).toList();
        }

        @Override
        public String toString() {
            return Shown.of(this);
        }
    }

    /** The attribution of the logit difference at the last position. */
    public static Attribution logitDiff(Model model, ActivationCache cache, List<AnswerPair> answers, By by) {
        return logitDiff(model, cache, answers, by, -1);
    }

    /**
     * The attribution of the logit difference at {@code position} (negative from the end).
     *
     * @param answers one pair for every prompt of the cache, or one pair per prompt
     */
    public static Attribution logitDiff(Model model, ActivationCache cache, List<AnswerPair> answers, By by, int position) {
        return logitDiff(model, cache, answers, by, position, null);
    }

    /**
     * The attribution of the logit difference at {@code position}, with {@code inclMid} for {@link By#ACCUMULATED}
     * (null: as the architecture has it; true on a model with parallel blocks is an error naming the choice).
     *
     * <pre>{@code
     * var acc = DirectLogitAttribution.logitDiff(model, cache, answers, DirectLogitAttribution.By.ACCUMULATED, -1, false);
     * }</pre>
     */
    public static Attribution logitDiff(Model model, ActivationCache cache, List<AnswerPair> answers, By by, int position, Boolean inclMid) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(by, "by");
        Lens lens = model.lens();
        Args args = Args.of("model", model.ref(), "answers", AnswerPair.wire(answers), "by", by.wire(), "position", position);
        if (inclMid != null) {
            args.put("incl_mid", inclMid);
        }
        JsonNode v = call(cache, "analysis.logit_diff_attribution", args);
        int nLayers = model.cfg().nLayers();
        int nHeads = model.cfg().nHeads();
        double[] values = Wire.flat(lens, v.get("attributions"));
        return new Attribution(v.get("by").asText(), Wire.strings(v.get("labels")), values, Wire.d2(lens, v.get("per_prompt")),
                Wire.number(v.get("logit_diff")), Wire.ints2(v.get("answer_token_ids")), nLayers, nHeads,
                v.hasNonNull("output_transform") ? v.get("output_transform").asText() : null);
    }
}
