package org.lens4j.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.lens4j.ActivationCache;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Scope;
import org.lens4j.Tensor;
import org.lens4j.analysis.AnswerPair;
import org.lens4j.analysis.Head;
import org.lens4j.analysis.Metrics;
import org.lens4j.analysis.PathPatching;
import org.lens4j.viz.Figures;
import org.lens4j.viz.HeatmapOptions;
import org.lens4j.viz.Html;
import org.lens4j.viz.Views;

/**
 * Seed 002, "Function induction: path patching". In-context additions with an offset
 * ("1+2=4, 3+3=7, ..., 4+1=" -> "6": every example adds one) against the same additions
 * without it ("... 4+1=" -> "5"). Path patching asks which heads carry the "+1": each sender
 * head's output in the contrast (offset) run is replaced by the normal run's, along the path to
 * the final residual stream only, then along the path into one head's value input; the heads
 * found are shown by their attention patterns averaged over a batch.
 *
 * <pre>
 * ./lens4j run FunctionInductionPathPatching [--model toy-ioi] [--out out/FunctionInductionPathPatching]
 * </pre>
 */
public final class FunctionInductionPathPatching {
    /**
     * The key numbers.
     *
     * @param normalPrompts the additions without offset
     * @param contrastPrompts the same with offset 1 in the in-context examples
     * @param normalLogitDiff logit(x+y+1) - logit(x+y) on the normal prompts (mean)
     * @param contrastLogitDiff the same on the contrast prompts
     * @param resultsResidPost the seed's {@code (patched - contrast) / (contrast - normal)}, [layer][head], paths to the final residual stream
     * @param headList1 heads with |result| > 0.05
     * @param headList2 heads with 0.02 < |result| <= 0.05
     * @param receiverHead the head whose value input the second sweep receives on (the strongest head of the first)
     * @param resultsHeadV the same ratio for paths into the receiver head's v, [layer][head]
     */
    public record Result(String model, List<String> normalPrompts, List<String> contrastPrompts, double normalLogitDiff,
                         double contrastLogitDiff, double[][] resultsResidPost, List<Head> headList1, List<Head> headList2, Head receiverHead,
                         double[][] resultsHeadV, List<String> files, double seconds) {
    }

    private FunctionInductionPathPatching() {
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
        Output out = new Output(Cli.outDir(args, "FunctionInductionPathPatching"));
        long start = System.nanoTime();
        try (Scope scope = lens.scope()) {
            // # Loading model and data
            Model model = lens.load(modelName);
            Print.title("Function induction: path patching (seed 002) on " + modelName);
            System.out.println(model);
            // setting1, nmax 9, offset 1, 4 in-context examples; 12 examples for the demo
            int nmax = 9;
            int offset = 1;
            int nIclExamples = 4;
            Data data = processDataset(12, nmax, offset, nIclExamples, 0);
            Print.step("Data");
            Print.line("%d examples, %d in-context additions each. Contrast (offset %d) and normal prompts, e.g.:", data.normal.size(),
                    nIclExamples, offset);
            Print.line("  contrast: %s  -> %s", Print.tok(data.contrast.get(0)), Print.tok((String) data.answers.get(0).correct()));
            Print.line("  normal:   %s  -> %s", Print.tok(data.normal.get(0)), Print.tok((String) data.answers.get(0).incorrect()));

            // # Patching to output logits: paths from every head to the last layer's resid_post
            Print.step("Path patching to the final residual stream (resid_post of the last layer)");
            PathPatch toRepr = analyzePath(model, data, PathPatching.Receivers.finalResidual());
            Print.line("Logit diff (offset answer - plain answer): normal %.3f, contrast %.3f", toRepr.normal, toRepr.contrast);
            if (Math.abs(toRepr.contrast - toRepr.normal) < 0.5) {
                Print.line("Note: %s tells the offset prompts from the plain ones only weakly (a difference of %.3f), so the ratios "
                        + "below divide by a small number and are noisy.", modelName, toRepr.contrast - toRepr.normal);
            }
            Print.line("Path patching results (%%: (patched - contrast) / (contrast - normal)), layer x head:");
            Print.table(percent(toRepr.results), Print.layers(toRepr.results.length), Print.heads(toRepr.results[0].length), 7, "%.1f");
            // # Tracking which heads have |r| > 5% and 2% .. 5%
            List<Head> headList1 = headsAbove(toRepr.results, 0.05, Double.POSITIVE_INFINITY);
            List<Head> headList2 = headsAbove(toRepr.results, 0.02, 0.05);
            Print.line("rel_diff > 0.05:\t %s", headList1);
            Print.line("0.05 > rel_diff > 0.02:\t %s", headList2);
            out.json("path_patching_resid_post", toRepr.raw);
            out.view("path_patching_resid_post", visualizeHeatmap(lens, toRepr.results, "to the final residual stream"));

            // # Visualize the attention pattern of these heads (averaged over a batch of 4 contrast prompts)
            List<Head> ranked = rankedByMagnitude(toRepr.results);
            List<Head> shown = ranked.subList(0, Math.min(4, ranked.size()));
            out.view("attention_top_heads", visualizeHeads(lens, model, shown, data.contrast.subList(0, 4)));

            // # Patching to the strongest head's v (one above layer 0, so that earlier heads can send to it)
            Head receiver = ranked.stream().filter(h -> h.layer() > 0).findFirst().orElseThrow();
            Print.step("Path patching to " + receiver + "'s value input (v)");
            PathPatch toHead = analyzePath(model, data, PathPatching.Receivers.heads("v", receiver));
            Print.table(percent(toHead.results), Print.layers(toHead.results.length), Print.heads(toHead.results[0].length), 7, "%.1f");
            List<Head> senders = rankedByMagnitude(toHead.results);
            Print.line("Heads that write what %s reads through its values: %s", receiver,
                    senders.stream().limit(3).map(h -> h + " " + String.format(Locale.ROOT, "%.1f%%", 100 * toHead.results[h.layer()][h.head()])).toList());
            Print.line("(only heads below layer %d can send to it; later heads show 0)", receiver.layer());
            out.json("path_patching_head_v", toHead.raw);
            out.view("path_patching_head_v", visualizeHeatmap(lens, toHead.results, "to " + receiver + " v"));
            out.view("attention_v_senders", visualizeHeads(lens, model, senders.subList(0, Math.min(3, senders.size())), data.contrast.subList(0, 4)));

            double seconds = (System.nanoTime() - start) / 1e9;
            List<String> files = new ArrayList<>(out.names());
            files.add("summary.json");
            Result result = new Result(modelName, data.normal, data.contrast, toRepr.normal, toRepr.contrast, toRepr.results, headList1, headList2,
                    receiver, toHead.results, files, seconds);
            out.json("summary", result);
            out.printSummary();
            Print.line("Done in %.1f s.", seconds);
            return result;
        }
    }

    /** Normal and contrast prompts (same length in tokens), with (offset answer, plain answer) pairs. */
    private record Data(List<String> normal, List<String> contrast, List<AnswerPair> answers) {
    }

    /**
     * The seed's data (its addition_nmax9_offset1 file): {@code nIclExamples} additions "a+b=c"
     * and a query "x+y=", each number at most {@code nmax}; the contrast prompts' examples add
     * {@code offset}. Made here with a seeded {@link Random}.
     */
    static Data processDataset(int n, int nmax, int offset, int nIclExamples, long seed) {
        Random random = new Random(seed);
        List<String> normal = new ArrayList<>();
        List<String> contrast = new ArrayList<>();
        List<AnswerPair> answers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder plain = new StringBuilder();
            StringBuilder shifted = new StringBuilder();
            for (int k = 0; k < nIclExamples; k++) {
                int a = random.nextInt(nmax + 1);
                int b = random.nextInt(nmax + 1);
                plain.append(a).append('+').append(b).append('=').append(a + b).append('\n');
                shifted.append(a).append('+').append(b).append('=').append(a + b + offset).append('\n');
            }
            int x = random.nextInt(nmax + 1);
            int y = random.nextInt(nmax + 1);
            normal.add(plain + "" + x + "+" + y + "=");
            contrast.add(shifted + "" + x + "+" + y + "=");
            answers.add(AnswerPair.of(String.valueOf(x + y + offset), String.valueOf(x + y)));
        }
        return new Data(normal, contrast, answers);
    }

    /** One analyze_path_to_* result: the ratio grid, the two ends, and the op's raw result. */
    private record PathPatch(double[][] results, double normal, double contrast, PathPatching.Result raw) {
    }

    /**
     * The seed's analyze_path_to_repr / analyze_path_to_head: path patching with the contrast
     * run as the base and each sender's output from the normal run ("denoise" with clean =
     * normal, corrupted = contrast), reported as {@code (patched - contrast) / (contrast - normal)}.
     */
    private static PathPatch analyzePath(Model model, Data data, PathPatching.Receivers receivers) {
        PathPatching.Result p = PathPatching.run(model, data.normal, data.contrast, Metrics.logitDiff(data.answers), receivers);
        double normalLogitDiff = p.cleanValue();
        double contrastLogitDiff = p.corruptedValue();
        double[][] results = new double[p.values().length][];
        for (int l = 0; l < results.length; l++) {
            results[l] = new double[p.values()[l].length];
            for (int h = 0; h < results[l].length; h++) {
                results[l][h] = (p.values()[l][h] - contrastLogitDiff) / (contrastLogitDiff - normalLogitDiff);
            }
        }
        return new PathPatch(results, normalLogitDiff, contrastLogitDiff, p);
    }

    /** imshow(100 * results.t(), x = layer, y = head, "Logit diff. variation" in %). */
    private static Html visualizeHeatmap(Lens lens, double[][] results, String info) {
        int layers = results.length;
        int heads = results[0].length;
        double[][] t = new double[heads][layers];
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < heads; h++) {
                t[h][l] = 100 * results[l][h];
            }
        }
        return Figures.imshow(lens, t, HeatmapOptions.titled("Path patching results " + info).withXaxis("Layer").withYaxis("Head")
                .withCaxis("Logit diff. variation (%)").withSize(800, 400).withSharedPlotlyJs(true));
    }

    /** The seed's visualize_heads: each head's pattern averaged over the batch, tokens of the first prompt. */
    private static Html visualizeHeads(Lens lens, Model model, List<Head> heads, List<String> prompts) {
        ActivationCache cache = model.runWithCache(prompts, Names.only("pattern")).cache();
        float[][][] patterns = new float[heads.size()][][];
        for (int i = 0; i < heads.size(); i++) {
            Head h = heads.get(i);
            try (Tensor pattern = cache.get("pattern", h.layer()); Tensor one = pattern.select(1, h.head()); Tensor mean = one.mean(0)) {
                patterns[i] = mean.toFloatArray2();
            }
        }
        List<String> names = heads.stream().map(h -> h.layer() + "." + h.head()).toList();
        return Views.attentionPatterns(lens, patterns, model.toStrTokens(prompts.get(0)), "Heads " + names + ", mean over " + prompts.size() + " prompts");
    }

    private static double[][] percent(double[][] results) {
        double[][] out = new double[results.length][];
        for (int l = 0; l < results.length; l++) {
            out[l] = new double[results[l].length];
            for (int h = 0; h < out[l].length; h++) {
                out[l][h] = 100 * results[l][h];
            }
        }
        return out;
    }

    /** Heads with {@code low < |r| <= high}, largest layer first (as the seed sorts them). */
    private static List<Head> headsAbove(double[][] results, double low, double high) {
        List<Head> out = new ArrayList<>();
        for (int l = results.length - 1; l >= 0; l--) {
            for (int h = results[l].length - 1; h >= 0; h--) {
                double r = Math.abs(results[l][h]);
                if (!Double.isNaN(r) && r > low && r <= high) {
                    out.add(Head.of(l, h));
                }
            }
        }
        return out;
    }

    private static List<Head> rankedByMagnitude(double[][] results) {
        double[][] abs = new double[results.length][];
        for (int l = 0; l < results.length; l++) {
            abs[l] = new double[results[l].length];
            for (int h = 0; h < abs[l].length; h++) {
                abs[l][h] = Math.abs(results[l][h]);
            }
        }
        return Print.ranked(abs);
    }
}
