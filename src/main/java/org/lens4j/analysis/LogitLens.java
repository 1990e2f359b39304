package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.lens4j.Input;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Tensor;
import org.lens4j.data.ResultTable;
import org.lens4j.internal.Args;
import org.lens4j.internal.LensAccess;
import org.lens4j.viz.Figures;
import org.lens4j.viz.HeatmapOptions;
import org.lens4j.viz.Html;

/**
 * The logit lens: unembed the residual stream after each layer and see what the model would
 * predict if it stopped there: per layer and position the top tokens, a target token's
 * probability and rank, and the KL divergence from the final prediction.
 *
 * <pre>{@code
 * // seed 003: blocks.L.ln2.hook_normalized unembedded, one row per layer
 * LogitLens.Result lens = LogitLens.run(model, "James Potter went to school. James", LogitLens.Options.defaults());
 * double[][] kl = lens.klGrid(0);                 // [position][layer], the seed's kl_divergences
 * String[][] top = lens.topTokenGrid(0);          // [position][layer], the seed's argmax tokens
 * // seed 001: accumulated_resid through the final layer norm, with a target token
 * LogitLens.Result acc = LogitLens.run(model, prompt,
 *         LogitLens.Options.defaults().withSource(LogitLens.Source.ACCUMULATED_RESID).withInclMid(true).withTarget(" Mary"));
 * }</pre>
 *
 * <p>KL is seed 003's {@code kl_div(log_softmax(row), softmax(final_logits), reduction="none").sum(-1)},
 * that is KL(final || row).
 */
public final class LogitLens {
    private LogitLens() {
    }

    /** Where each row of the lens comes from. */
    public enum Source {
        /**
         * Seed 003: {@code unembed(blocks.L.ln2.hook_normalized)}; rows {@code 0_ln2}, {@code 1_ln2}, ... Models whose
         * blocks have no ln2 (Phi: attention and MLP share the input norm) have no such rows: use RESID_POST or ACCUMULATED_RESID.
         */
        LN2_NORMALIZED,
        /**
         * {@code unembed(ln_final(blocks.L.hook_resid_post))}, rows {@code 0_post}, ... The last row is the model's output
         * where the unembedding is the model's last step; a model that transforms its logits after it (Gemma 2's final
         * soft-cap) needs {@link Options#withOutputTransform(boolean)} for that (see {@link Result#outputTransform()}).
         */
        RESID_POST,
        /**
         * Seed 001: {@code cache.accumulated_resid()} rows through {@code apply_ln_to_stack(layer=-1)} (the final
         * layer norm's cached scale, the seed's formula) then the unembed. Rows {@code 0_pre}, ({@code 0_mid}), ..., {@code final_post}.
         */
        ACCUMULATED_RESID;

        String wire() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * What the lens reads and reports; {@link #defaults()} is seed 003's lens with the top 5 tokens.
     *
     * <pre>{@code
     * LogitLens.Options o = LogitLens.Options.defaults().withTopK(3).withPositions(List.of(-1)).withTarget(" Paris");
     * }</pre>
     *
     * @param source where the rows come from
     * @param rows which rows (layers), by index, negative from the end; null for all
     * @param positions which positions, negative from the end; null for all
     * @param topK top tokens per cell
     * @param target a token (one-token text or id) whose probability and rank to report, or null
     * @param inclMid with ACCUMULATED_RESID, also the residual stream between attention and MLP
     * @param recomputeLn with ACCUMULATED_RESID, normalize each row with its own statistics (TransformerLens' {@code apply_ln=True})
     * @param prependBos null: the model's default
     * @param outputTransform pass every row through the model's own post-unembedding transform (Gemma 2's final logit
     *     soft-cap); off by default, as in TransformerLens
     */
    public record Options(Source source, List<Integer> rows, List<Integer> positions, int topK, Object target, boolean inclMid,
                          boolean recomputeLn, Boolean prependBos, boolean outputTransform) {
        public Options {
            Objects.requireNonNull(source, "source");
            rows = Wire.checkedList(rows, "rows");
            positions = Wire.checkedList(positions, "positions");
            Wire.requirePositive(topK, "topK");
            target = target == null ? null : AnswerPair.checkToken(target, "target");
            if ((inclMid || recomputeLn) && source != Source.ACCUMULATED_RESID) {
                throw new InvalidInputException("inclMid and recomputeLn apply to Source.ACCUMULATED_RESID only; the source is " + source);
            }
        }

        /** Options without the output transform. */
        public Options(Source source, List<Integer> rows, List<Integer> positions, int topK, Object target, boolean inclMid,
                       boolean recomputeLn, Boolean prependBos) {
            this(source, rows, positions, topK, target, inclMid, recomputeLn, prependBos, false);
        }

        public static Options defaults() {
            return new Options(Source.LN2_NORMALIZED, null, null, 5, null, false, false, null);
        }

        /** Rows through the model's own post-unembedding transform (Gemma 2's soft-cap), so the last RESID_POST row is its output. */
        public Options withOutputTransform(boolean value) {
            return with(b -> b.outputTransform = value);
        }

        public Options withSource(Source value) {
            return with(b -> b.source = value);
        }

        public Options withRows(List<Integer> value) {
            return with(b -> b.rows = value);
        }

        public Options withPositions(List<Integer> value) {
            return with(b -> b.positions = value);
        }

        public Options withTopK(int value) {
            return with(b -> b.topK = value);
        }

        public Options withTarget(String value) {
            return with(b -> b.target = value);
        }

        public Options withTarget(int tokenId) {
            return with(b -> b.target = tokenId);
        }

        public Options withInclMid(boolean value) {
            return with(b -> b.inclMid = value);
        }

        public Options withRecomputeLn(boolean value) {
            return with(b -> b.recomputeLn = value);
        }

        public Options withPrependBos(Boolean value) {
            return with(b -> b.prependBos = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
        private Options with(java.util.function.Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new Options(b.source, b.rows, b.positions, b.topK, b.target, b.inclMid, b.recomputeLn, b.prependBos,
                    b.outputTransform);
        }

        private static final class Builder {
            Source source;
            List<Integer> rows;
            List<Integer> positions;
            int topK;
            Object target;
            boolean inclMid;
            boolean recomputeLn;
            Boolean prependBos;
            boolean outputTransform;

            Builder(Options o) {
                source = o.source; rows = o.rows; positions = o.positions; topK = o.topK; target = o.target; inclMid = o.inclMid;
                recomputeLn = o.recomputeLn; prependBos = o.prependBos; outputTransform = o.outputTransform;
            }
        }
    }

    /**
     * The lens. Grids are indexed [row][prompt][position(][k)]; {@code positions} gives the
     * positions (non-negative) that the position axis holds.
     *
     * <pre>{@code
     * LogitLens.Result r = LogitLens.run(model, prompt, LogitLens.Options.defaults()); double[][] kl = r.klGrid(0); r.figure(lens).show();
     * }</pre>
     *
     * @param source the source's name ("ln2_normalized", "resid_post", "accumulated_resid")
     * @param labels one per row, as TransformerLens labels layers ("0_ln2", "3_pre", "final_post")
     * @param rows the rows' indices among all rows of the source
     * @param positions the positions held, in order
     * @param strTokens each prompt's token strings
     * @param topTokenIds [row][prompt][position][k]
     * @param topTokens the same as token strings
     * @param topProbs [row][prompt][position][k]
     * @param kl KL(final || row), [row][prompt][position]
     * @param targetId the target token's id, or null
     * @param targetProbs [row][prompt][position], or null without a target
     * @param targetRanks [row][prompt][position] (0 = top), or null without a target
     * @param outputTransform the model's post-unembedding transform in words (such as "final logit soft-cap 30 *
     *     tanh(logits / 30)"), or null where the unembedding is its output
     * @param outputTransformApplied whether the rows went through it ({@link Options#withOutputTransform(boolean)})
     */
    public record Result(String source, List<String> labels, int[] rows, int[] positions, List<List<String>> strTokens,
                         long[][][][] topTokenIds, String[][][][] topTokens, double[][][][] topProbs, double[][][] kl,
                         Integer targetId, double[][][] targetProbs, long[][][] targetRanks, String outputTransform,
                         boolean outputTransformApplied) implements ResultTable.Source {

        /** A result of a model without a post-unembedding transform. */
        public Result(String source, List<String> labels, int[] rows, int[] positions, List<List<String>> strTokens,
                      long[][][][] topTokenIds, String[][][][] topTokens, double[][][][] topProbs, double[][][] kl,
                      Integer targetId, double[][][] targetProbs, long[][][] targetRanks) {
            this(source, labels, rows, positions, strTokens, topTokenIds, topTokens, topProbs, kl, targetId, targetProbs, targetRanks,
                    null, false);
        }

        /** Seed 003's grid: KL at [position][row] for one prompt. */
        public double[][] klGrid(int prompt) {
            checkPrompt(prompt);
            double[][] out = new double[positions.length][labels.size()];
            for (int r = 0; r < labels.size(); r++) {
                for (int p = 0; p < positions.length; p++) {
                    out[p][r] = kl[r][prompt][p];
                }
            }
            return out;
        }

        /** Seed 003's grid: the top token at [position][row] for one prompt. */
        public String[][] topTokenGrid(int prompt) {
            checkPrompt(prompt);
            String[][] out = new String[positions.length][labels.size()];
            for (int r = 0; r < labels.size(); r++) {
                for (int p = 0; p < positions.length; p++) {
                    out[p][r] = topTokens[r][prompt][p][0];
                }
            }
            return out;
        }

        /** Seed 003's picture for the first prompt: see {@link #figure(Lens, int)}. */
        public Html figure(Lens lens) {
            return figure(lens, 0);
        }

        /**
         * Seed 003's picture: a heatmap of KL(final || row), rows (layers) by positions labelled
         * with the prompt's tokens; {@link #topTokenGrid(int)} holds each cell's top token.
         */
        public Html figure(Lens lens, int prompt) {
            checkPrompt(prompt);
            double[][] grid = new double[labels.size()][];
            for (int r = 0; r < grid.length; r++) {
                grid[r] = kl[r][prompt].clone();
            }
            List<String> tokens = new ArrayList<>();
            for (int p : positions) {
                tokens.add(strTokens.get(prompt).get(p));
            }
            return Figures.imshow(lens, grid, HeatmapOptions.titled("Logit lens (" + source + "): KL(final || layer)")
                    .withX(tokens).withY(labels).withXaxis("Position").withYaxis("Layer").withCaxis("KL").withMidpoint(null));
        }

        private void checkPrompt(int prompt) {
            if (prompt < 0 || prompt >= strTokens.size()) {
                throw new InvalidInputException("prompt " + prompt + " is out of range: the lens holds " + strTokens.size() + " prompt(s)");
            }
        }

        /** The KL grid of a one-prompt lens, one row per (lens row, position); a lens of several prompts needs {@link #table(int)}. */
        @Override
        public ResultTable table() {
            if (strTokens.size() != 1) {
                throw new IllegalArgumentException("this lens holds " + strTokens.size()
                        + " prompts and a row has no prompt column: use result.table(prompt) for one of them");
            }
            return table(0);
        }

        /** The KL grid of one prompt of the lens: one row per (lens row, position), labelled with the row ("3_pre"). */
        public ResultTable table(int prompt) {
            return ResultTable.byPosition(labels, positions, kl, prompt);
        }

        @Override
        public String toString() {
            return Shown.of(this);
        }
    }

    /** The lens of a prompt, prompts or tokens. */
    public static Result run(Model model, Input input, Options options) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(options, "options");
        Lens lens = model.lens();
        Args args = Args.of("model", model.ref(), "input", Wire.arg(input, "input"), "layers", options.rows(),
                "positions", options.positions(), "top_k", options.topK(), "target", options.target(),
                "source", options.source().wire(), "incl_mid", options.inclMid(), "recompute_ln", options.recomputeLn(),
                "prepend_bos", options.prependBos(), "output_transform", options.outputTransform());
        JsonNode v = LensAccess.ops(lens).call("analysis.logit_lens", args.map()).value();
        boolean hasTarget = v.has("target_id");
        return new Result(v.get("source").asText(), Wire.strings(v.get("labels")), Wire.ints(v.get("rows")), Wire.ints(v.get("positions")),
                Wire.strings2(v.get("str_tokens")), Wire.l4(lens, v.get("top_token_ids")), Wire.strings4(v.get("top_tokens")),
                Wire.d4(lens, v.get("top_probs")), Wire.d3(lens, v.get("kl")),
                hasTarget ? v.get("target_id").asInt() : null,
                hasTarget ? Wire.d3(lens, v.get("target_probs")) : null,
                hasTarget ? Wire.l3(lens, v.get("target_ranks")) : null,
                v.hasNonNull("output_transform") ? v.get("output_transform").asText() : null, v.path("output_transform_applied").asBoolean(false));
    }

    /** As {@link #run(Model, Input, Options)}, on a prompt. */
    public static Result run(Model model, String input, Options options) {
        return run(model, Wire.input(input, "input"), options);
    }

    /** As {@link #run(Model, Input, Options)}, on prompts. */
    public static Result run(Model model, List<String> input, Options options) {
        return run(model, Wire.input(input, "input"), options);
    }

    /** As {@link #run(Model, Input, Options)}, on tokens. */
    public static Result run(Model model, Tensor input, Options options) {
        return run(model, Wire.input(input, "input"), options);
    }
}
