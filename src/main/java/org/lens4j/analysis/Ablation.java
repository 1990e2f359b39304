package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.lens4j.Input;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.ProgressListener;
import org.lens4j.Tensor;
import org.lens4j.data.ResultTable;
import org.lens4j.internal.Args;
import org.lens4j.internal.LensAccess;
import org.lens4j.viz.Html;

/**
 * Seed 004's head ablations: run the corrupted prompts with one head's output ({@code hook_z})
 * replaced at chosen positions, for every head, and score each run with the normalized metric
 * {@code (ablated - corrupted) / (clean - corrupted)}. Methods: zero, mean (of the clean run)
 * and resample (the clean run's own activation, as seed 004's {@code patch_head_vector}). The
 * variants run in Python, stacked along the batch axis.
 *
 * <pre>{@code
 * List<AnswerPair> answers = AnswerPair.list(" Mary", " John", " John", " Mary");
 * Ablation.HeadAblation zero = Ablation.ablateHeads(model, clean, corrupted, answers,
 *         Ablation.Options.defaults().withMethod(Ablation.Method.ZERO));
 * double[][] grid = zero.scores();                       // [layer][head]
 * Ablation.Comparison all = Ablation.compare(model, clean, corrupted, answers, Ablation.Options.defaults()
 *         .withCategories(Map.of("name mover heads", List.of(Head.of(9, 9), Head.of(9, 6)))));
 * System.out.println(all.categoryDifference());          // {name mover heads={zero=.., mean=..}}
 * }</pre>
 */
public final class Ablation {
    private Ablation() {
    }

    /** What replaces a head's z. */
    public enum Method {
        /** z = 0 */
        ZERO,
        /** the clean run's mean z at that position (over the batch, or see {@link MeanOver}) */
        MEAN,
        /** the clean run's z of the same prompt (or of a prompt drawn by a seeded permutation) */
        RESAMPLE;

        String wire() {
            return name().toLowerCase(Locale.ROOT);
        }

    }

    /** What mean ablation averages over. */
    public enum MeanOver {
        /** the clean batch (what mean ablation usually means) */
        BATCH,
        /** d_head, per prompt: seed 004's literal {@code .mean(dim=1, keepdim=True)} */
        D_HEAD;

        String wire() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Options of {@link #ablateHeads} and {@link #compare}, with withers; {@link #defaults()} follows seed 004.
     *
     * <pre>{@code
     * Ablation.Options o = Ablation.Options.defaults().withMethod(Ablation.Method.MEAN).withHeads(List.of(Head.of(9, 9))).withPositions(List.of(-1));
     * }</pre>
     *
     * @param method for {@link #ablateHeads}
     * @param methods for {@link #compare}; resample first as in the seed
     * @param positions positions whose z is replaced, negative from the end (default: the last); on a
     *     right-padded batch of prompts a negative position counts from each prompt's own last real token,
     *     where the metric reads, and a non-negative one is the same column for every prompt
     * @param heads heads to ablate (null: every head); the others score NaN
     * @param seed resample: draw the clean prompts by a permutation seeded with this (null: each prompt its own)
     * @param meanOver mean: over the batch or over d_head
     * @param metric the metric (null: the mean logit difference of the answers); a {@link Metric.Normalized} is used as it is
     * @param normalize {@link #ablateHeads}: normalize the metric by the clean and corrupted runs
     * @param categories {@link #compare}: named groups of heads for seed 004's percentage difference against resample
     * @param prependBos null: the model's default
     * @param batchSize rows (prompts x variants) per forward pass; null: 64
     * @param positionsPerPrompt null, or one list of positions per prompt (all of one length), which replaces {@code positions}
     */
    public record Options(Method method, List<Method> methods, List<Integer> positions, List<Head> heads, Long seed, MeanOver meanOver,
                          Metric metric, boolean normalize, Map<String, List<Head>> categories, Boolean prependBos, Integer batchSize,
                          List<List<Integer>> positionsPerPrompt) {
        public Options {
            Objects.requireNonNull(method, "method");
            if (methods == null || methods.isEmpty() || methods.stream().anyMatch(Objects::isNull)) {
                throw new InvalidInputException("methods must be a non-empty list of ablation methods");
            }
            methods = List.copyOf(methods);
            positions = Wire.checkedList(positions, "positions");
            heads = heads == null ? null : List.copyOf(heads);
            Head.wire(heads);
            meanOver = meanOver == null ? MeanOver.BATCH : meanOver;
            if (metric != null && !metric.isScalar()) {
                throw new InvalidInputException("an ablation scores each run with one number: use a metric that averages over prompts, not " + metric);
            }
            if (categories != null) {
                Map<String, List<Head>> copy = new LinkedHashMap<>();
                categories.forEach((name, list) -> {
                    Head.wire(list);
                    copy.put(name, List.copyOf(list));
                });
                categories = Collections.unmodifiableMap(copy);
            }
            if (batchSize != null) {
                Wire.requirePositive(batchSize, "batchSize");
            }
            if (positionsPerPrompt != null) {
                List<List<Integer>> rows = new ArrayList<>();
                for (int i = 0; i < positionsPerPrompt.size(); i++) {
                    List<Integer> row = Wire.checkedList(positionsPerPrompt.get(i), "positionsPerPrompt[" + i + "]");
                    if (row == null) {
                        throw new InvalidInputException("positionsPerPrompt[" + i + "] is null: give each prompt its positions");
                    }
                    rows.add(row);
                }
                positionsPerPrompt = List.copyOf(rows);
            }
        }

        public static Options defaults() {
            return new Options(Method.ZERO, List.of(Method.RESAMPLE, Method.ZERO, Method.MEAN), null, null, null, MeanOver.BATCH, null, true,
                    null, null, null, null);
        }

        public Options withMethod(Method value) {
            return with(b -> b.method = value);
        }

        public Options withMethods(List<Method> value) {
            return with(b -> b.methods = value);
        }

        public Options withPositions(List<Integer> value) {
            return with(b -> b.positions = value);
        }

        public Options withHeads(List<Head> value) {
            return with(b -> b.heads = value);
        }

        public Options withSeed(Long value) {
            return with(b -> b.seed = value);
        }

        /** As {@link #withSeed(Long)}, so that {@code withSeed(7)} compiles as a TransformerLens user types it. */
        public Options withSeed(int value) {
            return withSeed((long) value);
        }

        public Options withMeanOver(MeanOver value) {
            return with(b -> b.meanOver = value);
        }

        public Options withMetric(Metric value) {
            return with(b -> b.metric = value);
        }

        public Options withNormalize(boolean value) {
            return with(b -> b.normalize = value);
        }

        public Options withCategories(Map<String, List<Head>> value) {
            return with(b -> b.categories = value);
        }

        public Options withPrependBos(Boolean value) {
            return with(b -> b.prependBos = value);
        }

        public Options withBatchSize(Integer value) {
            return with(b -> b.batchSize = value);
        }

        /**
         * Each prompt's own positions ({@code perPrompt.get(i)} for prompt i, all of one length; negative
         * from that prompt's last real token), in place of {@link #positions()}; as hooks'
         * {@code positionsPerPrompt}.
         */
        public Options withPositionsPerPrompt(List<List<Integer>> value) {
            return with(b -> b.positionsPerPrompt = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
        private Options with(java.util.function.Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new Options(b.method, b.methods, b.positions, b.heads, b.seed, b.meanOver, b.metric, b.normalize,
                    b.categories, b.prependBos, b.batchSize, b.positionsPerPrompt);
        }

        private static final class Builder {
            Method method;
            List<Method> methods;
            List<Integer> positions;
            List<Head> heads;
            Long seed;
            MeanOver meanOver;
            Metric metric;
            boolean normalize;
            Map<String, List<Head>> categories;
            Boolean prependBos;
            Integer batchSize;
            List<List<Integer>> positionsPerPrompt;

            Builder(Options o) {
                method = o.method; methods = o.methods; positions = o.positions; heads = o.heads; seed = o.seed;
                meanOver = o.meanOver; metric = o.metric; normalize = o.normalize; categories = o.categories;
                prependBos = o.prependBos; batchSize = o.batchSize; positionsPerPrompt = o.positionsPerPrompt;
            }
        }
    }

    /**
     * One method's scores.
     *
     * <pre>{@code
     * Ablation.HeadAblation r = Ablation.ablateHeads(model, clean, corrupted, answers, Ablation.Options.defaults()); r.figure(lens).save(Path.of("zero.html"));
     * }</pre>
     *
     * @param method "zero", "mean" or "resample"
     * @param scores [layer][head]; NaN for heads not ablated
     * @param normalized whether the scores are normalized ((ablated - corrupted) / (clean - corrupted))
     * @param positions the ablated positions (non-negative)
     * @param cleanMetric the metric on the clean run (unnormalized)
     * @param corruptedMetric the metric on the corrupted run (unnormalized)
     */
    public record HeadAblation(String method, double[][] scores, boolean normalized, int[] positions, double cleanMetric,
                               double corruptedMetric) implements ResultTable.Source {
        public double score(Head head) {
            return scores[head.layer()][head.head()];
        }

        /** The {@code k} heads with the highest scores, as "L9H9=0.512". */
        public List<String> top(int k) {
            return HeadDetector.top(scores, k);
        }

        /** Seed 004's layer x head heatmap (RdBu around 0; heads not ablated left blank). */
        public Html figure(Lens lens) {
            return HeadDetector.headHeatmap(lens, scores, "Logit difference after " + method + " ablation" + (normalized ? " (normalized)" : ""));
        }

        /** One row per head, labelled with the method. */
        @Override
        public ResultTable table() {
            return ResultTable.heads(scores, method);
        }

        @Override
        public String toString() {
            return Shown.of(this);
        }
    }

    /**
     * Seed 004's side-by-side comparison.
     *
     * <pre>{@code
     * double[][] zero = Ablation.compare(model, clean, corrupted, answers, Ablation.Options.defaults()).scores(Ablation.Method.ZERO);
     * }</pre>
     *
     * @param methods the methods, in the order of {@code scores}
     * @param scores [method][layer][head], normalized
     * @param positions the ablated positions
     * @param cleanMetric the metric on the clean run
     * @param corruptedMetric the metric on the corrupted run
     * @param categoryDifference per category, per method other than resample: seed 004's
     *     {@code count_procentage_difference(resample, method)}, {@code int(sum(|m / r| for heads with r > 0.05) / n * 100)};
     *     null without categories
     */
    public record Comparison(List<String> methods, double[][][] scores, int[] positions, double cleanMetric, double corruptedMetric,
                             Map<String, Map<String, Integer>> categoryDifference) implements ResultTable.Source {
        /** One method's grid, [layer][head]. */
        public double[][] scores(Method method) {
            int i = methods.indexOf(method.wire());
            if (i < 0) {
                throw new InvalidInputException("this comparison has no " + method.wire() + " ablation; methods: " + methods);
            }
            return scores[i];
        }

        /** Seed 004's heatmaps, one per method, in the order of {@code methods}. */
        public List<Html> figures(Lens lens) {
            List<Html> out = new ArrayList<>();
            for (int i = 0; i < methods.size(); i++) {
                out.add(HeadDetector.headHeatmap(lens, scores[i], "Logit difference after " + methods.get(i) + " ablation (normalized)"));
            }
            return out;
        }

        /** One row per method and head, method by method, labelled with the method. */
        @Override
        public ResultTable table() {
            return ResultTable.heads(methods, scores);
        }

        @Override
        public String toString() {
            return Shown.of(this);
        }
    }

    /** Every head (or {@code options.heads()}) ablated in turn by {@code options.method()}. */
    public static HeadAblation ablateHeads(Model model, Input clean, Input corrupted, List<AnswerPair> answers, Options options) {
        return ablateHeads(model, clean, corrupted, answers, options, ProgressListener.NONE);
    }

    /** As {@link #ablateHeads(Model, Input, Input, List<AnswerPair>, Options)}, on a prompt. */
    public static HeadAblation ablateHeads(Model model, String clean, String corrupted, List<AnswerPair> answers, Options options) {
        return ablateHeads(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), answers, options);
    }

    /** As {@link #ablateHeads(Model, Input, Input, List<AnswerPair>, Options)}, on prompts. */
    public static HeadAblation ablateHeads(Model model, List<String> clean, List<String> corrupted, List<AnswerPair> answers, Options options) {
        return ablateHeads(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), answers, options);
    }

    /** As {@link #ablateHeads(Model, Input, Input, List<AnswerPair>, Options)}, on tokens. */
    public static HeadAblation ablateHeads(Model model, Tensor clean, Tensor corrupted, List<AnswerPair> answers, Options options) {
        return ablateHeads(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), answers, options);
    }

    public static HeadAblation ablateHeads(Model model, Input clean, Input corrupted, List<AnswerPair> answers, Options options,
                                           ProgressListener progress) {
        Objects.requireNonNull(options, "options");
        Lens lens = model.lens();
        try (Metric.Binding metric = options.metric() == null ? null : options.metric().bind(lens)) {
            Args args = common(model, clean, corrupted, answers, options, metric).put("method", options.method().wire())
                    .put("normalize", options.normalize());
            JsonNode v = LensAccess.ops(lens).call("analysis.ablate_heads", args.map(), List.of(), progress).value();
            return new HeadAblation(v.get("method").asText(), Wire.d2(lens, v.get("scores")), v.get("normalized").asBoolean(),
                    Wire.ints(v.get("positions")), Wire.number(v.get("clean_metric")), Wire.number(v.get("corrupted_metric")));
        }
    }

    /** As {@link #ablateHeads(Model, Input, Input, List<AnswerPair>, Options, ProgressListener)}, on a prompt. */
    public static HeadAblation ablateHeads(Model model, String clean, String corrupted, List<AnswerPair> answers, Options options, ProgressListener progress) {
        return ablateHeads(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), answers, options, progress);
    }

    /** As {@link #ablateHeads(Model, Input, Input, List<AnswerPair>, Options, ProgressListener)}, on prompts. */
    public static HeadAblation ablateHeads(Model model, List<String> clean, List<String> corrupted, List<AnswerPair> answers, Options options, ProgressListener progress) {
        return ablateHeads(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), answers, options, progress);
    }

    /** As {@link #ablateHeads(Model, Input, Input, List<AnswerPair>, Options, ProgressListener)}, on tokens. */
    public static HeadAblation ablateHeads(Model model, Tensor clean, Tensor corrupted, List<AnswerPair> answers, Options options, ProgressListener progress) {
        return ablateHeads(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), answers, options, progress);
    }

    /** Seed 004's comparison of {@code options.methods()}, sharing one clean and one corrupted run. */
    public static Comparison compare(Model model, Input clean, Input corrupted, List<AnswerPair> answers, Options options) {
        return compare(model, clean, corrupted, answers, options, ProgressListener.NONE);
    }

    /** As {@link #compare(Model, Input, Input, List<AnswerPair>, Options)}, on a prompt. */
    public static Comparison compare(Model model, String clean, String corrupted, List<AnswerPair> answers, Options options) {
        return compare(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), answers, options);
    }

    /** As {@link #compare(Model, Input, Input, List<AnswerPair>, Options)}, on prompts. */
    public static Comparison compare(Model model, List<String> clean, List<String> corrupted, List<AnswerPair> answers, Options options) {
        return compare(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), answers, options);
    }

    /** As {@link #compare(Model, Input, Input, List<AnswerPair>, Options)}, on tokens. */
    public static Comparison compare(Model model, Tensor clean, Tensor corrupted, List<AnswerPair> answers, Options options) {
        return compare(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), answers, options);
    }

    public static Comparison compare(Model model, Input clean, Input corrupted, List<AnswerPair> answers, Options options,
                                     ProgressListener progress) {
        Objects.requireNonNull(options, "options");
        if (options.categories() != null && !options.methods().contains(Method.RESAMPLE)) {
            throw new InvalidInputException("categories compare each method with resample ablation: include Method.RESAMPLE in methods");
        }
        Lens lens = model.lens();
        try (Metric.Binding metric = options.metric() == null ? null : options.metric().bind(lens)) {
            Map<String, Object> categories = null;
            if (options.categories() != null) {
                categories = new LinkedHashMap<>();
                for (Map.Entry<String, List<Head>> e : options.categories().entrySet()) {
                    categories.put(e.getKey(), Head.wire(e.getValue()));
                }
            }
            Args args = common(model, clean, corrupted, answers, options, metric)
                    .put("methods", options.methods().stream().map(Method::wire).toList()).put("categories", categories);
            JsonNode v = LensAccess.ops(lens).call("analysis.ablation_comparison", args.map(), List.of(), progress).value();
            Map<String, Map<String, Integer>> table = null;
            if (v.has("category_difference")) {
                table = new LinkedHashMap<>();
                for (Map.Entry<String, JsonNode> e : v.get("category_difference").properties()) {
                    Map<String, Integer> row = new LinkedHashMap<>();
                    for (Map.Entry<String, JsonNode> m : e.getValue().properties()) {
                        row.put(m.getKey(), m.getValue().asInt());
                    }
                    table.put(e.getKey(), row);
                }
            }
            return new Comparison(Wire.strings(v.get("methods")), Wire.d3(lens, v.get("scores")), Wire.ints(v.get("positions")),
                    Wire.number(v.get("clean_metric")), Wire.number(v.get("corrupted_metric")), table);
        }
    }

    /** As {@link #compare(Model, Input, Input, List<AnswerPair>, Options, ProgressListener)}, on a prompt. */
    public static Comparison compare(Model model, String clean, String corrupted, List<AnswerPair> answers, Options options, ProgressListener progress) {
        return compare(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), answers, options, progress);
    }

    /** As {@link #compare(Model, Input, Input, List<AnswerPair>, Options, ProgressListener)}, on prompts. */
    public static Comparison compare(Model model, List<String> clean, List<String> corrupted, List<AnswerPair> answers, Options options, ProgressListener progress) {
        return compare(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), answers, options, progress);
    }

    /** As {@link #compare(Model, Input, Input, List<AnswerPair>, Options, ProgressListener)}, on tokens. */
    public static Comparison compare(Model model, Tensor clean, Tensor corrupted, List<AnswerPair> answers, Options options, ProgressListener progress) {
        return compare(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), answers, options, progress);
    }

    private static Args common(Model model, Input clean, Input corrupted, List<AnswerPair> answers, Options options, Metric.Binding metric) {
        Objects.requireNonNull(model, "model");
        if (answers == null && metric == null) {
            throw new InvalidInputException("give answers ((correct, incorrect) pairs) or a metric in the options");
        }
        Lens lens = model.lens();
        List<Integer> positions = options.positions() == null ? List.of(-1) : options.positions();
        return Args.of("model", model.ref(), "clean", Wire.arg(clean, "clean"), "corrupted", Wire.arg(corrupted, "corrupted"),
                "answers", answers == null ? null : AnswerPair.wire(answers), "positions", positions,
                "heads", Head.wire(options.heads()), "seed", options.seed(), "mean_over", options.meanOver().wire(),
                "metric", metric == null ? null : metric.spec(), "prepend_bos", options.prependBos(), "batch_size", options.batchSize(),
                "positions_per_prompt", options.positionsPerPrompt());
    }
}
