package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Consumer;
import org.lens4j.ActivationCache;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Slice;
import org.lens4j.Tensor;
import org.lens4j.data.ResultTable;
import org.lens4j.internal.Args;
import org.lens4j.internal.LensAccess;
import org.lens4j.viz.Figures;
import org.lens4j.viz.HeatmapOptions;
import org.lens4j.viz.Html;
import org.lens4j.viz.ScatterOptions;
import org.lens4j.viz.SeriesOptions;

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
 *         DirectLogitAttribution.AccumulatedResidOptions.defaults().withLayer(-1).withInclMid(true).withPosSlice(Slice.at(-1)))) {
 *     System.out.println(acc.labels());                 // [0_pre, 0_mid, 1_pre, 1_mid, final_post]
 *     Tensor scaled = DirectLogitAttribution.applyLnToStack(run.cache(), acc.stack(),
 *             DirectLogitAttribution.ApplyLnToStackOptions.defaults().withLayer(-1).withPosSlice(Slice.at(-1)));
 * }
 * }</pre>
 *
 * <pre>{@code
 * try (DirectLogitAttribution.LabelledStack s = DirectLogitAttribution.decomposeResid(cache, DirectLogitAttribution.DecomposeResidOptions.defaults())) { System.out.println(s.labels()); }
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

    /*
     * One options record per cache method, holding only the arguments that method takes (named and
     * defaulted as TransformerLens has them), so no method silently ignores a field it was given.
     */

    /**
     * {@link #accumulatedResid}'s arguments, as TransformerLens names them in {@code cache.accumulated_resid}.
     *
     * <pre>{@code
     * var o = DirectLogitAttribution.AccumulatedResidOptions.defaults().withLayer(-1).withInclMid(true).withPosSlice(Slice.at(-1));
     * }</pre>
     *
     * @param layer the layer whose input to stop at (0..n_layers), or -1 / null for the unembed (all layers)
     * @param inclMid also the residual stream between attention and MLP
     * @param applyLn apply the layer norm of {@code layer} (cached scale)
     * @param posSlice positions to keep (null: all)
     * @param mlpInput stop at the MLP input of {@code layer} instead of the attention input
     */
    public record AccumulatedResidOptions(Integer layer, boolean inclMid, boolean applyLn, Slice posSlice, boolean mlpInput) {
        public AccumulatedResidOptions {
            checkLayer(layer);
        }

        /** TransformerLens' defaults: all layers, no mid, no layer norm, every position. */
        public static AccumulatedResidOptions defaults() {
            return new AccumulatedResidOptions(null, false, false, null, false);
        }

        public AccumulatedResidOptions withLayer(Integer value) {
            return with(b -> b.layer = value);
        }

        public AccumulatedResidOptions withInclMid(boolean value) {
            return with(b -> b.inclMid = value);
        }

        public AccumulatedResidOptions withApplyLn(boolean value) {
            return with(b -> b.applyLn = value);
        }

        public AccumulatedResidOptions withPosSlice(Slice value) {
            return with(b -> b.posSlice = value);
        }

        public AccumulatedResidOptions withMlpInput(boolean value) {
            return with(b -> b.mlpInput = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still checks.
        private AccumulatedResidOptions with(Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new AccumulatedResidOptions(b.layer, b.inclMid, b.applyLn, b.posSlice, b.mlpInput);
        }

        private static final class Builder {
            Integer layer;
            boolean inclMid;
            boolean applyLn;
            Slice posSlice;
            boolean mlpInput;

            Builder(AccumulatedResidOptions o) {
                layer = o.layer; inclMid = o.inclMid; applyLn = o.applyLn; posSlice = o.posSlice; mlpInput = o.mlpInput;
            }
        }
    }

    /**
     * {@link #decomposeResid}'s arguments, as TransformerLens names them in {@code cache.decompose_resid}.
     *
     * <pre>{@code
     * var o = DirectLogitAttribution.DecomposeResidOptions.defaults().withLayer(1).withMode(DirectLogitAttribution.Mode.ATTN);
     * }</pre>
     *
     * @param layer the layer whose input to stop at (0..n_layers), or -1 / null for the unembed (all layers)
     * @param mlpInput stop at the MLP input of {@code layer} instead of the attention input
     * @param mode which components (null: {@link Mode#ALL})
     * @param applyLn apply the layer norm of {@code layer} (cached scale)
     * @param posSlice positions to keep (null: all)
     * @param inclEmbeds include the embeddings
     */
    public record DecomposeResidOptions(Integer layer, boolean mlpInput, Mode mode, boolean applyLn, Slice posSlice, boolean inclEmbeds) {
        public DecomposeResidOptions {
            checkLayer(layer);
            mode = mode == null ? Mode.ALL : mode;
        }

        /** TransformerLens' defaults: all layers, every component, embeddings included. */
        public static DecomposeResidOptions defaults() {
            return new DecomposeResidOptions(null, false, Mode.ALL, false, null, true);
        }

        public DecomposeResidOptions withLayer(Integer value) {
            return with(b -> b.layer = value);
        }

        public DecomposeResidOptions withMlpInput(boolean value) {
            return with(b -> b.mlpInput = value);
        }

        public DecomposeResidOptions withMode(Mode value) {
            return with(b -> b.mode = value);
        }

        public DecomposeResidOptions withApplyLn(boolean value) {
            return with(b -> b.applyLn = value);
        }

        public DecomposeResidOptions withPosSlice(Slice value) {
            return with(b -> b.posSlice = value);
        }

        public DecomposeResidOptions withInclEmbeds(boolean value) {
            return with(b -> b.inclEmbeds = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still checks.
        private DecomposeResidOptions with(Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new DecomposeResidOptions(b.layer, b.mlpInput, b.mode, b.applyLn, b.posSlice, b.inclEmbeds);
        }

        private static final class Builder {
            Integer layer;
            boolean mlpInput;
            Mode mode;
            boolean applyLn;
            Slice posSlice;
            boolean inclEmbeds;

            Builder(DecomposeResidOptions o) {
                layer = o.layer; mlpInput = o.mlpInput; mode = o.mode; applyLn = o.applyLn; posSlice = o.posSlice; inclEmbeds = o.inclEmbeds;
            }
        }
    }

    /**
     * {@link #stackHeadResults}'s arguments, as TransformerLens names them in {@code cache.stack_head_results}.
     *
     * <pre>{@code
     * var o = DirectLogitAttribution.StackHeadResultsOptions.defaults().withInclRemainder(true).withPosSlice(Slice.at(-1));
     * }</pre>
     *
     * @param layer the layer whose input to stop at (0..n_layers), or -1 / null for the unembed (all layers)
     * @param inclRemainder add the rest of the residual stream as a component
     * @param posSlice positions to keep (null: all)
     * @param applyLn apply the layer norm of {@code layer} (cached scale)
     */
    public record StackHeadResultsOptions(Integer layer, boolean inclRemainder, Slice posSlice, boolean applyLn) {
        public StackHeadResultsOptions {
            checkLayer(layer);
        }

        /** TransformerLens' defaults: every layer's heads, no remainder, every position, no layer norm. */
        public static StackHeadResultsOptions defaults() {
            return new StackHeadResultsOptions(null, false, null, false);
        }

        public StackHeadResultsOptions withLayer(Integer value) {
            return with(b -> b.layer = value);
        }

        public StackHeadResultsOptions withInclRemainder(boolean value) {
            return with(b -> b.inclRemainder = value);
        }

        public StackHeadResultsOptions withPosSlice(Slice value) {
            return with(b -> b.posSlice = value);
        }

        public StackHeadResultsOptions withApplyLn(boolean value) {
            return with(b -> b.applyLn = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still checks.
        private StackHeadResultsOptions with(Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new StackHeadResultsOptions(b.layer, b.inclRemainder, b.posSlice, b.applyLn);
        }

        private static final class Builder {
            Integer layer;
            boolean inclRemainder;
            Slice posSlice;
            boolean applyLn;

            Builder(StackHeadResultsOptions o) {
                layer = o.layer; inclRemainder = o.inclRemainder; posSlice = o.posSlice; applyLn = o.applyLn;
            }
        }
    }

    /**
     * {@link #getFullResidDecomposition}'s arguments, as TransformerLens names them in {@code cache.get_full_resid_decomposition}.
     *
     * <pre>{@code
     * var o = DirectLogitAttribution.FullResidDecompositionOptions.defaults().withExpandNeurons(false).withApplyLn(true);
     * }</pre>
     *
     * @param layer the layer whose input to stop at (0..n_layers), or -1 / null for the unembed (all layers)
     * @param mlpInput stop at the MLP input of {@code layer} instead of the attention input
     * @param expandNeurons one component per MLP neuron
     * @param applyLn apply the layer norm of {@code layer} (cached scale)
     * @param posSlice positions to keep (null: all)
     */
    public record FullResidDecompositionOptions(Integer layer, boolean mlpInput, boolean expandNeurons, boolean applyLn, Slice posSlice) {
        public FullResidDecompositionOptions {
            checkLayer(layer);
        }

        /** TransformerLens' defaults: all layers, neurons expanded, no layer norm, every position. */
        public static FullResidDecompositionOptions defaults() {
            return new FullResidDecompositionOptions(null, false, true, false, null);
        }

        public FullResidDecompositionOptions withLayer(Integer value) {
            return with(b -> b.layer = value);
        }

        public FullResidDecompositionOptions withMlpInput(boolean value) {
            return with(b -> b.mlpInput = value);
        }

        public FullResidDecompositionOptions withExpandNeurons(boolean value) {
            return with(b -> b.expandNeurons = value);
        }

        public FullResidDecompositionOptions withApplyLn(boolean value) {
            return with(b -> b.applyLn = value);
        }

        public FullResidDecompositionOptions withPosSlice(Slice value) {
            return with(b -> b.posSlice = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still checks.
        private FullResidDecompositionOptions with(Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new FullResidDecompositionOptions(b.layer, b.mlpInput, b.expandNeurons, b.applyLn, b.posSlice);
        }

        private static final class Builder {
            Integer layer;
            boolean mlpInput;
            boolean expandNeurons;
            boolean applyLn;
            Slice posSlice;

            Builder(FullResidDecompositionOptions o) {
                layer = o.layer; mlpInput = o.mlpInput; expandNeurons = o.expandNeurons; applyLn = o.applyLn; posSlice = o.posSlice;
            }
        }
    }

    /**
     * {@link #applyLnToStack}'s arguments, as TransformerLens names them in {@code cache.apply_ln_to_stack}.
     *
     * <pre>{@code
     * var o = DirectLogitAttribution.ApplyLnToStackOptions.defaults().withLayer(-1).withPosSlice(Slice.at(-1)).withRecomputeLn(true);
     * }</pre>
     *
     * @param layer the layer whose input to stop at (0..n_layers), or -1 / null for the unembed (all layers)
     * @param mlpInput stop at the MLP input of {@code layer} instead of the attention input
     * @param posSlice positions to keep (null: all)
     * @param batchSlice prompts to keep (null: all)
     * @param hasBatchDim whether the stack has a batch axis
     * @param recomputeLn normalize with each component's own statistics
     */
    public record ApplyLnToStackOptions(Integer layer, boolean mlpInput, Slice posSlice, Slice batchSlice, boolean hasBatchDim, boolean recomputeLn) {
        public ApplyLnToStackOptions {
            checkLayer(layer);
        }

        /** TransformerLens' defaults: the final layer norm, every position and prompt, a batch axis, cached scale. */
        public static ApplyLnToStackOptions defaults() {
            return new ApplyLnToStackOptions(null, false, null, null, true, false);
        }

        public ApplyLnToStackOptions withLayer(Integer value) {
            return with(b -> b.layer = value);
        }

        public ApplyLnToStackOptions withMlpInput(boolean value) {
            return with(b -> b.mlpInput = value);
        }

        public ApplyLnToStackOptions withPosSlice(Slice value) {
            return with(b -> b.posSlice = value);
        }

        public ApplyLnToStackOptions withBatchSlice(Slice value) {
            return with(b -> b.batchSlice = value);
        }

        public ApplyLnToStackOptions withHasBatchDim(boolean value) {
            return with(b -> b.hasBatchDim = value);
        }

        public ApplyLnToStackOptions withRecomputeLn(boolean value) {
            return with(b -> b.recomputeLn = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still checks.
        private ApplyLnToStackOptions with(Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new ApplyLnToStackOptions(b.layer, b.mlpInput, b.posSlice, b.batchSlice, b.hasBatchDim, b.recomputeLn);
        }

        private static final class Builder {
            Integer layer;
            boolean mlpInput;
            Slice posSlice;
            Slice batchSlice;
            boolean hasBatchDim;
            boolean recomputeLn;

            Builder(ApplyLnToStackOptions o) {
                layer = o.layer; mlpInput = o.mlpInput; posSlice = o.posSlice; batchSlice = o.batchSlice; hasBatchDim = o.hasBatchDim; recomputeLn = o.recomputeLn;
            }
        }
    }

    /**
     * {@link #logitAttrs}'s arguments, as TransformerLens names them in {@code cache.logit_attrs}.
     *
     * <pre>{@code
     * var o = DirectLogitAttribution.LogitAttrsOptions.defaults().withPosSlice(Slice.at(-1));
     * }</pre>
     *
     * @param posSlice positions to keep (null: all)
     * @param batchSlice prompts to keep (null: all)
     * @param hasBatchDim whether the stack has a batch axis
     */
    public record LogitAttrsOptions(Slice posSlice, Slice batchSlice, boolean hasBatchDim) {
        /** TransformerLens' defaults: every position and prompt, a batch axis. */
        public static LogitAttrsOptions defaults() {
            return new LogitAttrsOptions(null, null, true);
        }

        public LogitAttrsOptions withPosSlice(Slice value) {
            return with(b -> b.posSlice = value);
        }

        public LogitAttrsOptions withBatchSlice(Slice value) {
            return with(b -> b.batchSlice = value);
        }

        public LogitAttrsOptions withHasBatchDim(boolean value) {
            return with(b -> b.hasBatchDim = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still checks.
        private LogitAttrsOptions with(Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new LogitAttrsOptions(b.posSlice, b.batchSlice, b.hasBatchDim);
        }

        private static final class Builder {
            Slice posSlice;
            Slice batchSlice;
            boolean hasBatchDim;

            Builder(LogitAttrsOptions o) {
                posSlice = o.posSlice; batchSlice = o.batchSlice; hasBatchDim = o.hasBatchDim;
            }
        }
    }

    private static void checkLayer(Integer layer) {
        if (layer != null && layer < -1) {
            throw new InvalidInputException("layer " + layer + " is out of range: valid 0..n_layers, or -1 / null for the unembed (all layers)");
        }
    }

    // -- the cache methods ------------------------------------------------------------------

    /** {@code cache.accumulated_resid(layer, incl_mid, apply_ln, pos_slice, mlp_input, return_labels=True)}. */
    public static LabelledStack accumulatedResid(ActivationCache cache, AccumulatedResidOptions o) {
        Objects.requireNonNull(o, "options");
        return stack(cache, "analysis.accumulated_resid", Args.of("layer", o.layer(), "incl_mid", o.inclMid(), "apply_ln", o.applyLn(),
                "pos_slice", Wire.slice(o.posSlice()), "mlp_input", o.mlpInput()));
    }

    /** {@code cache.decompose_resid(layer, mlp_input, mode, apply_ln, pos_slice, incl_embeds, return_labels=True)}. */
    public static LabelledStack decomposeResid(ActivationCache cache, DecomposeResidOptions o) {
        Objects.requireNonNull(o, "options");
        return stack(cache, "analysis.decompose_resid", Args.of("layer", o.layer(), "mlp_input", o.mlpInput(), "mode", o.mode().wire(),
                "apply_ln", o.applyLn(), "pos_slice", Wire.slice(o.posSlice()), "incl_embeds", o.inclEmbeds()));
    }

    /** {@code cache.stack_head_results(layer, return_labels=True, incl_remainder, pos_slice, apply_ln)}; labels L0H0, ... */
    public static LabelledStack stackHeadResults(ActivationCache cache, StackHeadResultsOptions o) {
        Objects.requireNonNull(o, "options");
        return stack(cache, "analysis.stack_head_results", Args.of("layer", o.layer(), "incl_remainder", o.inclRemainder(),
                "pos_slice", Wire.slice(o.posSlice()), "apply_ln", o.applyLn()));
    }

    /** {@code cache.get_full_resid_decomposition(layer, mlp_input, expand_neurons, apply_ln, pos_slice, return_labels=True)}. */
    public static LabelledStack getFullResidDecomposition(ActivationCache cache, FullResidDecompositionOptions o) {
        Objects.requireNonNull(o, "options");
        return stack(cache, "analysis.get_full_resid_decomposition", Args.of("layer", o.layer(), "mlp_input", o.mlpInput(),
                "expand_neurons", o.expandNeurons(), "apply_ln", o.applyLn(), "pos_slice", Wire.slice(o.posSlice())));
    }

    /** {@code cache.apply_ln_to_stack(residual_stack, layer, mlp_input, pos_slice, batch_slice, has_batch_dim, recompute_ln)}. */
    public static Tensor applyLnToStack(ActivationCache cache, Tensor residualStack, ApplyLnToStackOptions o) {
        Objects.requireNonNull(residualStack, "residualStack");
        Objects.requireNonNull(o, "options");
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
    public static Tensor logitAttrs(ActivationCache cache, Tensor residualStack, Object tokens, Object incorrectTokens, LogitAttrsOptions o) {
        Objects.requireNonNull(residualStack, "residualStack");
        Objects.requireNonNull(o, "options");
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
                              int[][] answerTokenIds, int nLayers, int nHeads, String outputTransform) implements ResultTable.Source {

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
            return Figures.line(lens, values, SeriesOptions.titled(title).withX(labels).withXaxis("Component").withYaxis("Logit diff"));
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

        /** One row per component: its layer and head as the label names them ("L3H1", "3_attn_out"), the mean over prompts. */
        @Override
        public ResultTable table() {
            return ResultTable.components(labels, values);
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
