package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
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
 * Finds heads by their attention patterns: TransformerLens' {@code head_detector.detect_head}
 * (previous-token, duplicate-token, induction, or a pattern of your own), the repeated random
 * tokens of seeds 001 and 004, seed 001's diagonal scores on them, and seed 000's per-prompt
 * induction scores.
 *
 * <pre>{@code
 * HeadDetector.Scores induction = HeadDetector.detect(model, text, HeadDetector.Pattern.INDUCTION_HEAD);
 * System.out.println(induction.top(3));                         // [L1H2=0.91, ...]
 * Tensor repeated = HeadDetector.repeatedRandomTokens(model, 50, 2, 0);   // [2, 1 + 2*50], BOS first
 * HeadDetector.RepeatedTokenScores s = HeadDetector.repeatedTokenScores(model, repeated, 50);
 * double[][] inductionGrid = s.induction();                     // [layer][head]
 * }</pre>
 */
public final class HeadDetector {
    private HeadDetector() {
    }

    /** TransformerLens' built-in detection patterns. */
    public enum Pattern {
        PREVIOUS_TOKEN_HEAD, DUPLICATE_TOKEN_HEAD, INDUCTION_HEAD;

        String wire() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** How a head's attention is compared with the pattern (detect_head's {@code error_measure}). */
    public enum ErrorMeasure {
        /** the share of attention that falls on the pattern (the default) */
        MUL,
        /** 1 - mean absolute difference x size, rounded to 3 decimals as TransformerLens does */
        ABS;

        String wire() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * detect_head's options; {@link #defaults()} are TransformerLens' defaults.
     *
     * <pre>{@code
     * HeadDetector.Options o = HeadDetector.Options.defaults().withExcludeBos(true).withHeads(List.of(Head.parse("L5H5")));
     * }</pre>
     *
     * @param heads the heads to score (others score -1, as in TransformerLens); null for all
     * @param excludeBos ignore attention to the first token
     * @param excludeCurrentToken ignore attention to the token itself
     * @param errorMeasure how to compare
     * @param prependBos null: the model's default
     */
    public record Options(List<Head> heads, boolean excludeBos, boolean excludeCurrentToken, ErrorMeasure errorMeasure, Boolean prependBos) {
        public Options {
            heads = heads == null ? null : List.copyOf(heads);
            Head.wire(heads);
            errorMeasure = errorMeasure == null ? ErrorMeasure.MUL : errorMeasure;
        }

        public static Options defaults() {
            return new Options(null, false, false, ErrorMeasure.MUL, null);
        }

        public Options withHeads(List<Head> value) {
            return with(b -> b.heads = value);
        }

        public Options withExcludeBos(boolean value) {
            return with(b -> b.excludeBos = value);
        }

        public Options withExcludeCurrentToken(boolean value) {
            return with(b -> b.excludeCurrentToken = value);
        }

        public Options withErrorMeasure(ErrorMeasure value) {
            return with(b -> b.errorMeasure = value);
        }

        public Options withPrependBos(Boolean value) {
            return with(b -> b.prependBos = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
        private Options with(java.util.function.Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new Options(b.heads, b.excludeBos, b.excludeCurrentToken, b.errorMeasure, b.prependBos);
        }

        private static final class Builder {
            List<Head> heads;
            boolean excludeBos;
            boolean excludeCurrentToken;
            ErrorMeasure errorMeasure;
            Boolean prependBos;

            Builder(Options o) {
                heads = o.heads; excludeBos = o.excludeBos; excludeCurrentToken = o.excludeCurrentToken;
                errorMeasure = o.errorMeasure; prependBos = o.prependBos;
            }
        }
    }

    /**
     * A score per head, [layer][head].
     *
     * <pre>{@code
     * double s = HeadDetector.detect(model, text, HeadDetector.Pattern.PREVIOUS_TOKEN_HEAD).score(Head.of(4, 11));
     * }</pre>
     *
     * @param pattern the pattern's name, or "custom"
     * @param scores [layer][head]; -1 for heads not scored
     * @param nSequences how many sequences were averaged
     */
    public record Scores(String pattern, double[][] scores, int nSequences) implements ResultTable.Source {
        /** The score of one head. */
        public double score(Head head) {
            if (head.layer() >= scores.length || head.head() >= scores[0].length) {
                throw new InvalidInputException("unknown head " + head + ": the model has " + scores.length + " layers of " + scores[0].length + " heads");
            }
            return scores[head.layer()][head.head()];
        }

        /** The {@code k} best-scoring heads, best first, as "L1H2=0.913". */
        public List<String> top(int k) {
            return HeadDetector.top(scores, k);
        }

        /** A layer x head heatmap, as seed 004 plots detect_head's scores. */
        public Html figure(Lens lens) {
            return headHeatmap(lens, scores, pattern + " scores");
        }

        /** One row per head, labelled with the pattern. */
        @Override
        public ResultTable table() {
            return ResultTable.heads(scores, pattern);
        }

        @Override
        public String toString() {
            return Shown.of(this);
        }
    }

    /** detect_head with a built-in pattern on a prompt, prompts (their scores averaged) or tokens. */
    public static Scores detect(Model model, Input input, Pattern pattern) {
        return detect(model, input, pattern, Options.defaults());
    }

    /** As {@link #detect(Model, Input, Pattern)}, on a prompt. */
    public static Scores detect(Model model, String input, Pattern pattern) {
        return detect(model, Wire.input(input, "input"), pattern);
    }

    /** As {@link #detect(Model, Input, Pattern)}, on prompts. */
    public static Scores detect(Model model, List<String> input, Pattern pattern) {
        return detect(model, Wire.input(input, "input"), pattern);
    }

    /** As {@link #detect(Model, Input, Pattern)}, on tokens. */
    public static Scores detect(Model model, Tensor input, Pattern pattern) {
        return detect(model, Wire.input(input, "input"), pattern);
    }

    public static Scores detect(Model model, Input input, Pattern pattern, Options options) {
        Objects.requireNonNull(pattern, "pattern");
        return detectWith(model, input, pattern.wire(), options);
    }

    /** As {@link #detect(Model, Input, Pattern, Options)}, on a prompt. */
    public static Scores detect(Model model, String input, Pattern pattern, Options options) {
        return detect(model, Wire.input(input, "input"), pattern, options);
    }

    /** As {@link #detect(Model, Input, Pattern, Options)}, on prompts. */
    public static Scores detect(Model model, List<String> input, Pattern pattern, Options options) {
        return detect(model, Wire.input(input, "input"), pattern, options);
    }

    /** As {@link #detect(Model, Input, Pattern, Options)}, on tokens. */
    public static Scores detect(Model model, Tensor input, Pattern pattern, Options options) {
        return detect(model, Wire.input(input, "input"), pattern, options);
    }

    /**
     * detect_head with a pattern of your own: a lower-triangular [pos, pos] matrix (row = the
     * attending token); every sequence must have {@code pos} tokens.
     */
    public static Scores detect(Model model, Input input, double[][] pattern, Options options) {
        if (pattern == null || pattern.length == 0) {
            throw new InvalidInputException("a custom detection pattern must be a non-empty [pos, pos] matrix");
        }
        int n = pattern.length;
        double[] flat = new double[n * n];
        for (int i = 0; i < n; i++) {
            if (pattern[i] == null || pattern[i].length != n) {
                throw new InvalidInputException("a custom detection pattern must be square: row " + i + " has "
                        + (pattern[i] == null ? 0 : pattern[i].length) + " entries, expected " + n);
            }
            System.arraycopy(pattern[i], 0, flat, i * n, n);
        }
        try (Tensor t = model.lens().tensor(flat, n, n)) {
            return detectWith(model, input, t.ref(), options);
        }
    }

    /** As {@link #detect(Model, Input, double[][], Options)}, on a prompt. */
    public static Scores detect(Model model, String input, double[][] pattern, Options options) {
        return detect(model, Wire.input(input, "input"), pattern, options);
    }

    /** As {@link #detect(Model, Input, double[][], Options)}, on prompts. */
    public static Scores detect(Model model, List<String> input, double[][] pattern, Options options) {
        return detect(model, Wire.input(input, "input"), pattern, options);
    }

    /** As {@link #detect(Model, Input, double[][], Options)}, on tokens. */
    public static Scores detect(Model model, Tensor input, double[][] pattern, Options options) {
        return detect(model, Wire.input(input, "input"), pattern, options);
    }

    private static Scores detectWith(Model model, Input input, Object pattern, Options options) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(options, "options");
        Lens lens = model.lens();
        JsonNode v = LensAccess.ops(lens).call("analysis.detect_head", Args.of("model", model.ref(), "input", Wire.arg(input, "input"),
                "pattern", pattern, "heads", Head.wire(options.heads()), "exclude_bos", options.excludeBos(),
                "exclude_current_token", options.excludeCurrentToken(), "error_measure", options.errorMeasure().wire(),
                "prepend_bos", options.prependBos()).map()).value();
        return new Scores(v.get("pattern").asText(), Wire.d2(lens, v.get("scores")), v.get("n_sequences").asInt());
    }

    /**
     * Seeds 001/004's repeated random tokens: {@code randint(100, 20000, (batch, seqLen))} (the
     * upper bound capped at the vocabulary) from a generator seeded with {@code seed}, repeated
     * twice, BOS first. Shape [batch, 1 + 2 * seqLen].
     */
    public static Tensor repeatedRandomTokens(Model model, int seqLen, int batch, long seed) {
        return repeatedRandomTokens(model, seqLen, batch, seed, 100, 20000, true);
    }

    /** As above with the token range [low, high) and BOS handling of your choice (seed 001 has no BOS). */
    public static Tensor repeatedRandomTokens(Model model, int seqLen, int batch, long seed, int low, int high, boolean prependBos) {
        Objects.requireNonNull(model, "model");
        Wire.requirePositive(seqLen, "seqLen");
        Wire.requirePositive(batch, "batch");
        JsonNode v = LensAccess.ops(model.lens()).call("analysis.repeated_random_tokens", Args.of("model", model.ref(), "seq_len", seqLen,
                "batch", batch, "seed", seed, "low", low, "high", high, "prepend_bos", prependBos).map()).value();
        return LensAccess.ops(model.lens()).tensor(v.get("tokens"));
    }

    /**
     * Seed 001's head scores on repeated tokens, [layer][head] each: the mean attention along the
     * diagonal at offset 1 (previous token), {@code seqLen} (duplicate token) and
     * {@code seqLen - 1} (induction).
     *
     * <pre>{@code
     * double[][] induction = HeadDetector.repeatedTokenScores(model, HeadDetector.repeatedRandomTokens(model, 50, 2, 0), 50).induction();
     * }</pre>
     */
    public record RepeatedTokenScores(int seqLen, double[][] previousToken, double[][] duplicateToken, double[][] induction)
            implements ResultTable.Source {
        /** Seed 001's three layer x head heatmaps: previous-token, duplicate-token, induction. */
        public List<Html> figures(Lens lens) {
            return List.of(headHeatmap(lens, previousToken, "Previous token scores"), headHeatmap(lens, duplicateToken, "Duplicate token scores"),
                    headHeatmap(lens, induction, "Induction scores"));
        }

        /** One row per head and score, the grids labelled "previous_token", "duplicate_token", "induction" in turn. */
        @Override
        public ResultTable table() {
            return ResultTable.heads(List.of("previous_token", "duplicate_token", "induction"),
                    new double[][][] {previousToken, duplicateToken, induction});
        }

        @Override
        public String toString() {
            return Shown.of(this);
        }
    }

    /** Seed 001's three scores from one forward pass over {@code tokens} [batch, pos] (repeated sequences of {@code seqLen}). */
    public static RepeatedTokenScores repeatedTokenScores(Model model, Tensor tokens, int seqLen) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(tokens, "tokens");
        Lens lens = model.lens();
        JsonNode v = LensAccess.ops(lens).call("analysis.repeated_token_scores", Args.of("model", model.ref(), "tokens", tokens.ref(),
                "seq_len", seqLen).map()).value();
        return new RepeatedTokenScores(seqLen, Wire.d2(lens, v.get("previous_token")), Wire.d2(lens, v.get("duplicate_token")),
                Wire.d2(lens, v.get("induction")));
    }

    /**
     * Seed 000's per-prompt induction scores.
     *
     * <pre>{@code
     * List<Head> best = HeadDetector.inductionScores(model, questions).bestHeads();
     * }</pre>
     *
     * @param prompts the prompts, in order
     * @param scores [prompt][layer][head]: the mean of {@code pattern.diagonal(offset = 1 - length / 2)}
     * @param maxLayer per prompt, the layer of the best head
     * @param maxHead per prompt, the best head within that layer
     * @param maxScore per prompt, the best score
     * @param offset the diagonal's offset, {@code 1 - length / 2}
     * @param length the padded token length of the prompts
     */
    public record InductionScores(List<String> prompts, double[][][] scores, int[] maxLayer, int[] maxHead, double[] maxScore,
                                  int offset, int length) {
        /** A heatmap of each prompt's score per head: prompts (rows) by heads (columns, L0H0, L0H1, ...). */
        public Html figure(Lens lens) {
            int layers = scores[0].length;
            int heads = scores[0][0].length;
            double[][] grid = new double[scores.length][layers * heads];
            List<String> labels = new ArrayList<>();
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < heads; h++) {
                    labels.add("L" + l + "H" + h);
                    for (int p = 0; p < scores.length; p++) {
                        grid[p][l * heads + h] = scores[p][l][h];
                    }
                }
            }
            List<String> rows = new ArrayList<>();
            for (int p = 0; p < prompts.size(); p++) {
                String text = prompts.get(p);
                rows.add(p + ": " + (text.length() > 40 ? text.substring(0, 37) + "..." : text));
            }
            return Figures.imshow(lens, grid, HeatmapOptions.titled("Induction score per prompt").withX(labels).withY(rows)
                    .withXaxis("Head").withYaxis("Prompt"));
        }

        /** The best head of each prompt. */
        public List<Head> bestHeads() {
            List<Head> out = new ArrayList<>();
            for (int i = 0; i < maxLayer.length; i++) {
                out.add(Head.of(maxLayer[i], maxHead[i]));
            }
            return out;
        }

        @Override
        public String toString() {
            return Shown.of(this);
        }
    }

    /** Seed 000's scores: the prompts are tokenized together (right padding) and run in one pass. */
    public static InductionScores inductionScores(Model model, List<String> prompts) {
        Objects.requireNonNull(model, "model");
        if (prompts == null || prompts.isEmpty()) {
            throw new InvalidInputException("give at least one prompt");
        }
        Lens lens = model.lens();
        JsonNode v = LensAccess.ops(lens).call("analysis.induction_scores", Args.of("model", model.ref(), "prompts", List.copyOf(prompts)).map())
                .value();
        return new InductionScores(List.copyOf(prompts), Wire.d3(lens, v.get("scores")), Wire.ints(v.get("max_layer")),
                Wire.ints(v.get("max_head")), Wire.doubles(v.get("max_score")), v.get("offset").asInt(), v.get("length").asInt());
    }

    /**
     * As {@link #inductionScores(Model, List)}, on tokens [batch, pos] (the seed loops over such rows):
     * the rows are scored as they are, padding included, and {@code prompts} holds their decoded text.
     *
     * <pre>{@code
     * InductionScores s = HeadDetector.inductionScores(model, HeadDetector.repeatedRandomTokens(model, 20, 4, 0));
     * }</pre>
     */
    public static InductionScores inductionScores(Model model, Tensor tokens) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(tokens, "tokens");
        if (tokens.shape().length != 2) {
            throw new InvalidInputException("tokens must have shape [batch, pos]; got " + Arrays.toString(tokens.shape()));
        }
        Lens lens = model.lens();
        JsonNode v = LensAccess.ops(lens).call("analysis.induction_scores", Args.of("model", model.ref(), "prompts", tokens.ref()).map()).value();
        List<String> texts = new ArrayList<>();
        LensAccess.ops(lens).call("model.to_string", Args.of("model", model.ref(), "tokens", tokens.ref()).map()).value()
                .forEach(row -> texts.add(row.asText()));
        return new InductionScores(List.copyOf(texts), Wire.d3(lens, v.get("scores")), Wire.ints(v.get("max_layer")),
                Wire.ints(v.get("max_head")), Wire.doubles(v.get("max_score")), v.get("offset").asInt(), v.get("length").asInt());
    }

    static Html headHeatmap(Lens lens, double[][] grid, String title) {
        return Figures.imshow(lens, grid, HeatmapOptions.titled(title).withXaxis("Head").withYaxis("Layer"));
    }

    static List<String> top(double[][] grid, int k) {
        List<int[]> cells = new ArrayList<>();
        for (int l = 0; l < grid.length; l++) {
            for (int h = 0; h < grid[l].length; h++) {
                cells.add(new int[] {l, h});
            }
        }
        cells.sort(Comparator.comparingDouble((int[] c) -> grid[c[0]][c[1]]).reversed());
        return cells.stream().limit(Math.max(0, k))
                .map(c -> "L" + c[0] + "H" + c[1] + "=" + String.format(Locale.ROOT, "%.3f", grid[c[0]][c[1]])).toList();
    }
}
