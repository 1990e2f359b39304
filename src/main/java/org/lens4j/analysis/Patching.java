package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.lens4j.Input;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.ProgressListener;
import org.lens4j.Tensor;
import org.lens4j.data.ResultTable;
import org.lens4j.internal.Args;
import org.lens4j.internal.LensAccess;
import org.lens4j.viz.Figures;
import org.lens4j.viz.HeatmapOptions;
import org.lens4j.viz.Html;

/**
 * Activation patching sweeps, as TransformerLens' {@code patching.get_act_patch_*}: for each
 * cell of a grid (layer x position, layer x head, ...), run the corrupted prompts with the
 * clean activation patched in and evaluate a metric. One op in the worker, batched: the
 * patched variants are stacked along the batch axis, start at the patched layer from the
 * cached residual, recompute only the positions after the patch and unembed only the
 * positions the metric reads (docs/BENCHMARKS.md has the speed-up; the values equal
 * TransformerLens' to 1e-4, checked in python/tests/test_patching.py).
 *
 * <pre>{@code
 * Metric metric = Metrics.normalized(Metrics.logitDiff(" Mary", " John"));
 * Patching.Result sweep = Patching.sweep(model, cleanPrompt, corruptedPrompt, metric, Patching.Kind.RESID_PRE);
 * double[][] grid = sweep.grid();                     // [layer][position]
 * sweep.figure(lens).save(Path.of("resid_pre.html")); // heatmap labelled token_index
 * }</pre>
 */
public final class Patching {
    private Patching() {
    }

    /** The sweeps of TransformerLens' patching module; the *_EVERY kinds stack several on a leading patch-type axis. */
    public enum Kind {
        RESID_PRE, RESID_MID, RESID_POST, ATTN_OUT, MLP_OUT,
        ATTN_HEAD_OUT_ALL_POS, ATTN_HEAD_Q_ALL_POS, ATTN_HEAD_K_ALL_POS, ATTN_HEAD_V_ALL_POS, ATTN_HEAD_PATTERN_ALL_POS,
        ATTN_HEAD_OUT_BY_POS, ATTN_HEAD_Q_BY_POS, ATTN_HEAD_K_BY_POS, ATTN_HEAD_V_BY_POS, ATTN_HEAD_PATTERN_BY_POS,
        ATTN_HEAD_PATTERN_DEST_SRC_POS, BLOCK_EVERY, ATTN_HEAD_ALL_POS_EVERY, ATTN_HEAD_BY_POS_EVERY;

        /** The sweep's name as TransformerLens spells it ("resid_pre", "attn_head_out_all_pos", ...). */
        public String wire() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * A sweep's values with their labels.
     *
     * @param kind the sweep, as TransformerLens names it ("resid_pre", ...)
     * @param axes the grid's axes, e.g. ["layer", "pos"] or ["layer", "head"]; "patch_type" first for *_every
     * @param shape the grid's size along each axis
     * @param values the metric per cell, row-major over {@code shape}
     * @param patchTypes the labels of the patch_type axis (empty unless a *_every kind)
     * @param tokens the clean prompts' token strings (the labels of a position axis)
     * @param cleanValue the metric on the clean run (NaN when a clean cache was given)
     * @param corruptedValue the metric on the corrupted run
     * @param method "suffix" (recompute after the patch), "batched" (whole forward per variant) or
     *     "attribution" (a first-order estimate, from {@link #attribution})
     * @param seconds the time the worker took
     * @param fastPath the fast paths taken, and why not where one was not (see {@link FastPath})
     */
    public record Result(String kind, List<String> axes, int[] shape, double[] values, List<String> patchTypes,
                         List<List<String>> tokens, double cleanValue, double corruptedValue, String method, double seconds,
                         FastPath fastPath) implements ResultTable.Source {

        /** A result that records only its method. */
        public Result(String kind, List<String> axes, int[] shape, double[] values, List<String> patchTypes,
                      List<List<String>> tokens, double cleanValue, double corruptedValue, String method, double seconds) {
            this(kind, axes, shape, values, patchTypes, tokens, cleanValue, corruptedValue, method, seconds, FastPath.of(method));
        }

        Result withValues(Lens lens, JsonNode tensor) {
            Object[] f = flat(lens, tensor);
            return new Result(kind, axes, (int[]) f[0], (double[]) f[1], patchTypes, tokens, cleanValue, corruptedValue, method, seconds,
                    fastPath);
        }

        /** The value at one cell, indices in the order of {@link #axes()}. */
        public double at(int... index) {
            if (index.length != shape.length) {
                throw new IllegalArgumentException("this grid has axes " + axes + "; give " + shape.length + " indices");
            }
            int flat = 0;
            for (int i = 0; i < index.length; i++) {
                if (index[i] < 0 || index[i] >= shape[i]) {
                    throw new IndexOutOfBoundsException(axes.get(i) + " index " + index[i] + " is outside 0.." + (shape[i] - 1));
                }
                flat = flat * shape[i] + index[i];
            }
            return values[flat];
        }

        /** A two-axis grid as [row][column]; for other grids use {@link #at}. */
        public double[][] grid() {
            if (shape.length != 2) {
                throw new IllegalStateException("grid() needs a two-axis sweep; this one has axes " + axes);
            }
            return rows(0);
        }

        /** For a *_every sweep, the [layer][...] grid of one patch type ("resid_pre", "out", "q", ...). */
        public double[][] grid(String patchType) {
            int p = patchTypes.indexOf(patchType);
            if (p < 0 || shape.length != 3) {
                throw new IllegalArgumentException("patch types of this sweep: " + patchTypes);
            }
            return rows(p * shape[1] * shape[2]);
        }

        private double[][] rows(int offset) {
            int r = shape[shape.length - 2];
            int c = shape[shape.length - 1];
            double[][] out = new double[r][c];
            for (int i = 0; i < r; i++) {
                System.arraycopy(values, offset + i * c, out[i], 0, c);
            }
            return out;
        }

        /** The heatmap(s) as the seeds draw them: positions labelled {@code token_index} ("3: Mary"). */
        public List<Html> figures(Lens lens) {
            List<Html> out = new ArrayList<>();
            if (shape.length == 2) {
                out.add(heatmap(lens, grid(), kind));
            } else if (shape.length == 3 && !patchTypes.isEmpty()) {
                for (String p : patchTypes) {
                    out.add(heatmap(lens, grid(p), kind + ": " + p));
                }
            } else {
                throw new IllegalStateException("no figure for a sweep with axes " + axes + "; read it with at()");
            }
            return out;
        }

        /** The first of {@link #figures}: the heatmap of a two-axis sweep. */
        public Html figure(Lens lens) {
            return figures(lens).get(0);
        }

        private Html heatmap(Lens lens, double[][] grid, String title) {
            List<String> columnAxes = axes.subList(axes.size() - 1, axes.size());
            boolean positions = columnAxes.get(0).equals("pos");
            List<String> x = new ArrayList<>();
            for (int i = 0; i < grid[0].length; i++) {
                x.add(positions && !tokens.isEmpty() && i < tokens.get(0).size() ? i + ": " + tokens.get(0).get(i) : String.valueOf(i));
            }
            String what = method.equals("attribution") ? "Attribution patching (estimate): " : "Activation patching: ";
            HeatmapOptions options = HeatmapOptions.titled(what + title)
                    .withX(x).withXaxis(positions ? "token_index" : columnAxes.get(0)).withYaxis("layer");
            return Figures.imshow(lens, grid, options);
        }

        /** One row per cell: the layer, position and head axes as columns, labelled by patch type or the clean prompt's token. */
        @Override
        public ResultTable table() {
            return ResultTable.axes(axes, shape, values, patchTypes, tokens.isEmpty() ? List.of() : tokens.get(0));
        }

        @Override
        public String toString() {
            return Shown.of(this);
        }
    }

    /** A sweep with the defaults: method chosen by the worker, chunks sized to a memory budget. */
    public static Result sweep(Model model, Input clean, Input corrupted, Metric metric, Kind kind) {
        return sweep(model, clean, corrupted, metric, kind, null);
    }

    /** As {@link #sweep(Model, Input, Input, Metric, Kind)}, on a prompt. */
    public static Result sweep(Model model, String clean, String corrupted, Metric metric, Kind kind) {
        return sweep(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, kind);
    }

    /** As {@link #sweep(Model, Input, Input, Metric, Kind)}, on prompts. */
    public static Result sweep(Model model, List<String> clean, List<String> corrupted, Metric metric, Kind kind) {
        return sweep(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, kind);
    }

    /** As {@link #sweep(Model, Input, Input, Metric, Kind)}, on tokens. */
    public static Result sweep(Model model, Tensor clean, Tensor corrupted, Metric metric, Kind kind) {
        return sweep(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, kind);
    }

    /**
     * @param clean the clean prompt(s) or tokens
     * @param corrupted the corrupted prompt(s) or tokens, of the same token length
     * @param metric a scalar metric (usually a normalized logit difference)
     * @param progress receives one event per stacked chunk; null for none
     */
    public static Result sweep(Model model, Input clean, Input corrupted, Metric metric, Kind kind, ProgressListener progress) {
        return call("patching.sweep", model, clean, corrupted, metric, kind, progress);
    }

    /** As {@link #sweep(Model, Input, Input, Metric, Kind, ProgressListener)}, on a prompt. */
    public static Result sweep(Model model, String clean, String corrupted, Metric metric, Kind kind, ProgressListener progress) {
        return sweep(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, kind, progress);
    }

    /** As {@link #sweep(Model, Input, Input, Metric, Kind, ProgressListener)}, on prompts. */
    public static Result sweep(Model model, List<String> clean, List<String> corrupted, Metric metric, Kind kind, ProgressListener progress) {
        return sweep(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, kind, progress);
    }

    /** As {@link #sweep(Model, Input, Input, Metric, Kind, ProgressListener)}, on tokens. */
    public static Result sweep(Model model, Tensor clean, Tensor corrupted, Metric metric, Kind kind, ProgressListener progress) {
        return sweep(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, kind, progress);
    }

    /**
     * Attribution patching: the same grid as {@link #sweep}, estimated to first order from one
     * clean forward and one forward and backward of the corrupted run (Nanda, "Attribution
     * Patching", 2023). Each cell is the corrupted metric plus (clean - corrupted activation)
     * times the metric's gradient, summed over the cell. A screening tool: on a 12-layer model
     * it takes about as long as three forwards, where the exact sweep takes one per cell, but
     * where the metric is far from linear in the activation the estimate is off (docs/BENCHMARKS.md
     * compares the two). The metric must have a gradient: not a rank and not a Java lambda.
     *
     * <pre>{@code
     * Patching.Result quick = Patching.attribution(model, clean, corrupted, metric, Patching.Kind.ATTN_HEAD_OUT_ALL_POS);
     * Patching.Result exact = Patching.sweep(model, clean, corrupted, metric, Patching.Kind.ATTN_HEAD_OUT_ALL_POS);
     * }</pre>
     *
     * @return a result with method "attribution", shaped and labelled as the sweep's
     */
    public static Result attribution(Model model, Input clean, Input corrupted, Metric metric, Kind kind) {
        return call("patching.attribution", model, clean, corrupted, metric, kind, null);
    }

    /** As {@link #attribution(Model, Input, Input, Metric, Kind)}, on a prompt. */
    public static Result attribution(Model model, String clean, String corrupted, Metric metric, Kind kind) {
        return attribution(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, kind);
    }

    /** As {@link #attribution(Model, Input, Input, Metric, Kind)}, on prompts. */
    public static Result attribution(Model model, List<String> clean, List<String> corrupted, Metric metric, Kind kind) {
        return attribution(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, kind);
    }

    /** As {@link #attribution(Model, Input, Input, Metric, Kind)}, on tokens. */
    public static Result attribution(Model model, Tensor clean, Tensor corrupted, Metric metric, Kind kind) {
        return attribution(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, kind);
    }

    private static Result call(String op, Model model, Input clean, Input corrupted, Metric metric, Kind kind, ProgressListener progress) {
        if (model == null || metric == null || kind == null) {
            throw new IllegalArgumentException("model, metric and kind are required");
        }
        Lens lens = model.lens();
        try (Metric.Binding m = metric.bind(lens)) {
            Args args = Args.of("model", model.ref(), "clean", Wire.arg(clean, "clean"), "corrupted", Wire.arg(corrupted, "corrupted"),
                    "metric", m.spec(), "kind", kind.wire());
            JsonNode v = LensAccess.ops(lens).call(op, args.map(), List.of(), progress).value();
            List<String> patchTypes = strings(v.path("labels").path("patch_type"));
            FastPath fastPath = FastPath.of(v);
            fastPath.report("patching " + kind.wire(), progress);
            return new Result(v.get("kind").asText(), strings(v.get("axes")), null, null, patchTypes, tokens(v.get("labels")),
                    v.path("clean_value").asDouble(Double.NaN), v.path("corrupted_value").asDouble(Double.NaN),
                    v.path("method").asText(), v.path("seconds").asDouble(), fastPath).withValues(lens, v.get("values"));
        }
    }

    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        if (array != null) {
            array.forEach(n -> out.add(n.asText()));
        }
        return out;
    }

    static List<List<String>> tokens(JsonNode labels) {
        List<List<String>> out = new ArrayList<>();
        labels.path("tokens").forEach(row -> out.add(strings(row)));
        return out;
    }

    /** A values tensor of a scalar metric as (shape, flat values); the tensor is freed. */
    static Object[] flat(Lens lens, JsonNode tensor) {
        try (Tensor t = LensAccess.ops(lens).tensor(tensor)) {
            long[] s = t.shape();
            int[] shape = Arrays.stream(s).mapToInt(Math::toIntExact).toArray();
            return new Object[] {shape, t.toDoubleArray()};
        }
    }
}
