package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.lens4j.Input;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.ProgressListener;
import org.lens4j.Tensor;
import org.lens4j.data.ResultTable;
import org.lens4j.internal.Args;
import org.lens4j.internal.LensAccess;
import org.lens4j.viz.Html;

/**
 * Path patching (Wang et al.; seed 002): for every sender head, patch only its path into the
 * receivers (the residual stream at given layers, or given heads' q / k / v inputs) while
 * every other head is frozen, and evaluate a metric. One op in the worker, batched over
 * senders; the reference in the tests is a plain loop of hooks.
 *
 * <pre>{@code
 * PathPatching.Result toFinal = PathPatching.run(model, clean, corrupted, metric, PathPatching.Receivers.finalResidual());
 * PathPatching.Result toV = PathPatching.run(model, clean, corrupted, metric, PathPatching.Receivers.heads("v", new Head(3, 1)));
 * toFinal.figure(lens).save(Path.of("path_to_final.html"));
 * }</pre>
 */
public final class PathPatching {
    private PathPatching() {
    }

    /** "denoise": run the corrupted input, sender from the clean run, other heads frozen at corrupted values; "noise": the reverse. */
    public enum Direction { DENOISE, NOISE }

    /** Where the senders' paths end. */
    public record Receivers(Map<String, Object> spec) {
        /** The last layer's resid_post: the direct path to the logits. */
        public static Receivers finalResidual() {
            return new Receivers(Map.of("type", "final"));
        }

        /** The residual stream ({@code hook} "resid_pre", "resid_mid" or "resid_post") at these layers. */
        public static Receivers residual(String hook, int... layers) {
            if (layers.length == 0) {
                throw new IllegalArgumentException("give at least one receiver layer");
            }
            return new Receivers(Map.of("type", "resid", "hook", hook, "layers", layers));
        }

        /** These heads' {@code input} ("q", "k" or "v"). */
        public static Receivers heads(String input, Head... heads) {
            if (heads.length == 0) {
                throw new IllegalArgumentException("give at least one receiver head");
            }
            List<List<Integer>> list = new ArrayList<>();
            for (Head h : heads) {
                list.add(List.of(h.layer(), h.head()));
            }
            Map<String, Object> spec = new LinkedHashMap<>();
            spec.put("type", "heads");
            spec.put("heads", list);
            spec.put("input", input);
            return new Receivers(spec);
        }
    }

    /**
     * The metric for each sender head.
     *
     * @param receivers what the paths were patched into
     * @param direction denoise or noise
     * @param values [layer][head]; senders with no path to the receivers hold the unpatched value, others NaN
     * @param tokens the clean prompts' token strings
     * @param cleanValue the metric on the clean run
     * @param corruptedValue the metric on the corrupted run
     * @param baseValue the metric on the unpatched run the paths are patched into
     * @param method "suffix" or "batched"
     * @param seconds the time the worker took
     * @param fastPath the fast paths taken, and why not where one was not (see {@link FastPath})
     */
    public record Result(Map<String, Object> receivers, Direction direction, double[][] values, List<List<String>> tokens,
                         double cleanValue, double corruptedValue, double baseValue, String method, double seconds,
                         FastPath fastPath) implements ResultTable.Source {

        /** A result that records only its method. */
        public Result(Map<String, Object> receivers, Direction direction, double[][] values, List<List<String>> tokens,
                      double cleanValue, double corruptedValue, double baseValue, String method, double seconds) {
            this(receivers, direction, values, tokens, cleanValue, corruptedValue, baseValue, method, seconds, FastPath.of(method));
        }

        /** The {@code k} sender heads whose paths move the metric most (largest |value - base|). */
        public List<Head> top(int k) {
            List<Head> heads = new ArrayList<>();
            for (int l = 0; l < values.length; l++) {
                for (int h = 0; h < values[l].length; h++) {
                    if (!Double.isNaN(values[l][h])) {
                        heads.add(new Head(l, h));
                    }
                }
            }
            heads.sort((a, b) -> Double.compare(Math.abs(values[b.layer()][b.head()] - baseValue),
                    Math.abs(values[a.layer()][a.head()] - baseValue)));
            return heads.subList(0, Math.min(Math.max(k, 0), heads.size()));
        }

        /** The layer x head heatmap, as seed 002 draws it. */
        public Html figure(Lens lens) {
            return HeadDetector.headHeatmap(lens, values, "Path patching (" + direction.name().toLowerCase() + ") into " + receivers);
        }

        /** One row per sender head, labelled "L1H2". */
        @Override
        public ResultTable table() {
            return ResultTable.heads(values);
        }

        @Override
        public String toString() {
            return Shown.of(this);
        }
    }

    public static Result run(Model model, Input clean, Input corrupted, Metric metric, Receivers receivers) {
        return run(model, clean, corrupted, metric, receivers, Direction.DENOISE, null);
    }

    /** As {@link #run(Model, Input, Input, Metric, Receivers)}, on a prompt. */
    public static Result run(Model model, String clean, String corrupted, Metric metric, Receivers receivers) {
        return run(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, receivers);
    }

    /** As {@link #run(Model, Input, Input, Metric, Receivers)}, on prompts. */
    public static Result run(Model model, List<String> clean, List<String> corrupted, Metric metric, Receivers receivers) {
        return run(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, receivers);
    }

    /** As {@link #run(Model, Input, Input, Metric, Receivers)}, on tokens. */
    public static Result run(Model model, Tensor clean, Tensor corrupted, Metric metric, Receivers receivers) {
        return run(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, receivers);
    }

    public static Result run(Model model, Input clean, Input corrupted, Metric metric, Receivers receivers, Direction direction,
                             ProgressListener progress) {
        if (model == null || metric == null || receivers == null || direction == null) {
            throw new IllegalArgumentException("model, metric, receivers and direction are required");
        }
        Lens lens = model.lens();
        try (Metric.Binding m = metric.bind(lens)) {
            Args args = Args.of("model", model.ref(), "clean", Wire.arg(clean, "clean"), "corrupted", Wire.arg(corrupted, "corrupted"),
                    "metric", m.spec(), "receivers", receivers.spec(), "direction", direction.name().toLowerCase());
            JsonNode v = LensAccess.ops(lens).call("patching.path_patch", args.map(), List.of(), progress).value();
            Object[] flat = Patching.flat(lens, v.get("values"));
            int[] shape = (int[]) flat[0];
            double[] data = (double[]) flat[1];
            if (shape.length != 2) {
                throw new IllegalStateException("path patching needs a scalar metric; the values have shape " + java.util.Arrays.toString(shape));
            }
            double[][] grid = new double[shape[0]][shape[1]];
            for (int l = 0; l < shape[0]; l++) {
                System.arraycopy(data, l * shape[1], grid[l], 0, shape[1]);
            }
            FastPath fastPath = FastPath.of(v);
            fastPath.report("path patching", progress);
            return new Result(receivers.spec(), direction, grid, Patching.tokens(v.get("labels")),
                    v.path("clean_value").asDouble(Double.NaN), v.path("corrupted_value").asDouble(Double.NaN),
                    v.path("base_value").asDouble(Double.NaN), v.path("method").asText(), v.path("seconds").asDouble(), fastPath);
        }
    }

    /** As {@link #run(Model, Input, Input, Metric, Receivers, Direction, ProgressListener)}, on a prompt. */
    public static Result run(Model model, String clean, String corrupted, Metric metric, Receivers receivers, Direction direction, ProgressListener progress) {
        return run(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, receivers, direction, progress);
    }

    /** As {@link #run(Model, Input, Input, Metric, Receivers, Direction, ProgressListener)}, on prompts. */
    public static Result run(Model model, List<String> clean, List<String> corrupted, Metric metric, Receivers receivers, Direction direction, ProgressListener progress) {
        return run(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, receivers, direction, progress);
    }

    /** As {@link #run(Model, Input, Input, Metric, Receivers, Direction, ProgressListener)}, on tokens. */
    public static Result run(Model model, Tensor clean, Tensor corrupted, Metric metric, Receivers receivers, Direction direction, ProgressListener progress) {
        return run(model, Wire.input(clean, "clean"), Wire.input(corrupted, "corrupted"), metric, receivers, direction, progress);
    }
}
