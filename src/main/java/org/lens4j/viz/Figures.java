package org.lens4j.viz;

import java.util.List;
import java.util.Locale;
import org.lens4j.Lens;
import org.lens4j.Tensor;

/**
 * plotly figures as self-contained pages, drawn by plotly in the worker: heatmaps
 * ({@link #imshow}), lines, scatter plots and bars. Values come as Java arrays or as
 * {@link Tensor}s (which stay in Python); labels as lists. Every options argument may be null
 * for the defaults.
 *
 * <pre>{@code
 * try (Lens lens = Lens.start()) {
 *     double[][] scores = {{0.1, -0.4, 0.9}, {1.2, 0.0, -0.7}};               // [layer][head]
 *     Html heat = Figures.imshow(lens, scores, HeatmapOptions.titled("Induction scores")
 *             .withXaxis("Head").withYaxis("Layer"));
 *     heat.save(Path.of("scores.html"));
 *     Figures.line(lens, new double[] {0.2, 1.5, 3.1}, SeriesOptions.titled("Logit diff")
 *             .withX(List.of("0_pre", "1_pre", "final_post"))).show();
 * }
 * }</pre>
 *
 * <p>Each page inlines plotly.js (4.8 MB). For many figures in one folder, ask for
 * {@code withSharedPlotlyJs(true)}: the page is then a few kB and {@link Html#save} writes one
 * {@code plotly.min.js} beside it.
 */
public final class Figures {
    private Figures() {
    }

    // -- imshow ---------------------------------------------------------------------------

    /** A heatmap of {@code values[row][col]} with the defaults (RdBu around 0). */
    public static Html imshow(Lens lens, double[][] values) {
        return imshow(lens, values, null);
    }

    /** A heatmap of {@code values[row][col]}: plotly express' imshow with the 11-stop RdBu scale, midpoint 0. */
    public static Html imshow(Lens lens, double[][] values, HeatmapOptions options) {
        return imshowArray(lens, values, options);
    }

    /** A heatmap of {@code values[row][col]}. */
    public static Html imshow(Lens lens, float[][] values, HeatmapOptions options) {
        return imshowArray(lens, values, options);
    }

    /** A heatmap of a 2-d tensor {@code [rows, cols]}. */
    public static Html imshow(Tensor values, HeatmapOptions options) {
        long[] shape = ViewCall.shape(values, "values");
        ViewCall.dims(shape, "values", "[rows, cols]", 2);
        ViewCall call = new ViewCall(values.lens()).tensor("values", values);
        return imshow(call, shape, options);
    }

    private static Html imshowArray(Lens lens, Object values, HeatmapOptions options) {
        ViewCall call = new ViewCall(lens).array("values", values, 2);
        return imshow(call, Nd.shape(values, "values"), options);
    }

    private static Html imshow(ViewCall call, long[] shape, HeatmapOptions options) {
        HeatmapOptions o = options == null ? HeatmapOptions.defaults() : options;
        call.put("x", ViewCall.labels(o.x(), "x", shape[1], "values' columns"))
                .put("y", ViewCall.labels(o.y(), "y", shape[0], "values' rows"))
                .put("xaxis", o.xaxis()).put("yaxis", o.yaxis()).put("caxis", o.caxis())
                .putNullable("midpoint", o.midpoint())
                .put("zmin", o.zmin()).put("zmax", o.zmax())
                .put("aspect", o.aspect() == null ? null : o.aspect().name().toLowerCase(Locale.ROOT));
        return plotly(call, "viz.imshow", o.title(), o.width(), o.height(), o.sharedPlotlyJs());
    }

    // -- line and bar (one series per row) --------------------------------------------------

    /** One line through {@code values[point]}. */
    public static Html line(Lens lens, double[] values, SeriesOptions options) {
        return series(Chart.LINE, lens, new double[][] {values}, options);
    }

    /** One line per row of {@code values[line][point]}. */
    public static Html line(Lens lens, double[][] values, SeriesOptions options) {
        return series(Chart.LINE, lens, values, options);
    }

    public static Html line(Lens lens, float[] values, SeriesOptions options) {
        return series(Chart.LINE, lens, new float[][] {values}, options);
    }

    public static Html line(Lens lens, float[][] values, SeriesOptions options) {
        return series(Chart.LINE, lens, values, options);
    }

    /** Lines of a tensor {@code [points]} or {@code [lines, points]}. */
    public static Html line(Tensor values, SeriesOptions options) {
        return series(Chart.LINE, values, options);
    }

    /** One bar per {@code values[bar]}. */
    public static Html bar(Lens lens, double[] values, SeriesOptions options) {
        return series(Chart.BAR, lens, new double[][] {values}, options);
    }

    /** One series of bars per row of {@code values[series][bar]}. */
    public static Html bar(Lens lens, double[][] values, SeriesOptions options) {
        return series(Chart.BAR, lens, values, options);
    }

    public static Html bar(Lens lens, float[] values, SeriesOptions options) {
        return series(Chart.BAR, lens, new float[][] {values}, options);
    }

    public static Html bar(Lens lens, float[][] values, SeriesOptions options) {
        return series(Chart.BAR, lens, values, options);
    }

    /** Bars of a tensor {@code [bars]} or {@code [series, bars]}. */
    public static Html bar(Tensor values, SeriesOptions options) {
        return series(Chart.BAR, values, options);
    }

    /** A line plot or a bar chart: the op, and what its rows and columns are called in messages. */
    private enum Chart {
        LINE("viz.line", "lines", "points"),
        BAR("viz.bar", "series", "bars");

        final String op;
        final String rows;
        final String columns;

        Chart(String op, String rows, String columns) {
            this.op = op;
            this.rows = rows;
            this.columns = columns;
        }
    }

    private static Html series(Chart chart, Tensor values, SeriesOptions options) {
        long[] shape = ViewCall.shape(values, "values");
        ViewCall.dims(shape, "values", "[" + chart.columns + "] or [" + chart.rows + ", " + chart.columns + "]", 1, 2);
        return series(chart, new ViewCall(values.lens()).tensor("values", values), shape.length == 1 ? new long[] {1, shape[0]} : shape,
                options);
    }

    private static Html series(Chart chart, Lens lens, Object values, SeriesOptions options) {
        checkRows(values);
        return series(chart, new ViewCall(lens).array("values", values, 2), Nd.shape(values, "values"), options);
    }

    private static Html series(Chart chart, ViewCall call, long[] shape, SeriesOptions options) {
        SeriesOptions o = options == null ? SeriesOptions.defaults() : options;
        call.put("names", ViewCall.strings(o.names(), "names", shape[0], "values' " + chart.rows + " (first dim)"))
                .put("x", ViewCall.labels(o.x(), "x", shape[1], "values' " + chart.columns + " (last dim)"))
                .put("xaxis", o.xaxis()).put("yaxis", o.yaxis());
        if (chart == Chart.BAR) {
            call.put("barmode", o.barmode() == null ? null : o.barmode().wireName());
        }
        return plotly(call, chart.op, o.title(), o.width(), o.height(), o.sharedPlotlyJs());
    }

    // -- scatter --------------------------------------------------------------------------

    /** A point per {@code (x[i], y[i])}. */
    public static Html scatter(Lens lens, double[] x, double[] y, ScatterOptions options) {
        return scatterArrays(lens, x, y, options);
    }

    public static Html scatter(Lens lens, float[] x, float[] y, ScatterOptions options) {
        return scatterArrays(lens, x, y, options);
    }

    /** A point per {@code (x[i], y[i])} of two 1-d tensors of the same length. */
    public static Html scatter(Tensor x, Tensor y, ScatterOptions options) {
        long[] xs = ViewCall.shape(x, "x");
        long[] ys = ViewCall.shape(y, "y");
        ViewCall.dims(xs, "x", "[points]", 1);
        ViewCall.dims(ys, "y", "[points]", 1);
        ViewCall call = new ViewCall(x.lens());
        call.put("x", call.ref(x, "x")).put("y", call.ref(y, "y"));
        return scatter(call, xs[0], ys[0], options);
    }

    private static Html scatterArrays(Lens lens, Object x, Object y, ScatterOptions options) {
        long[] xs = Nd.shape(x, "x");
        long[] ys = Nd.shape(y, "y");
        return scatter(new ViewCall(lens).array("x", x, 1).array("y", y, 1), xs[0], ys[0], options);
    }

    private static Html scatter(ViewCall call, long nx, long ny, ScatterOptions options) {
        if (nx != ny) {
            throw new IllegalArgumentException("x and y must have the same length, got " + nx + " and " + ny);
        }
        ScatterOptions o = options == null ? ScatterOptions.defaults() : options;
        List<Object> color = ViewCall.labels(o.color(), "color", nx, "x");
        if (color != null && color.stream().anyMatch(c -> c instanceof String) && !color.stream().allMatch(c -> c instanceof String)) {
            throw new IllegalArgumentException("color must be all strings (groups) or all numbers (a colour scale), not a mix");
        }
        call.put("hover_name", ViewCall.strings(o.hoverNames(), "hoverNames", nx, "x"))
                .put("color", color)
                .put("xaxis", o.xaxis()).put("yaxis", o.yaxis()).put("caxis", o.caxis());
        return plotly(call, "viz.scatter", o.title(), o.width(), o.height(), o.sharedPlotlyJs());
    }

    // -- shared ---------------------------------------------------------------------------

    /** A 1-d array wrapped as one row is reported as "values", not "values[0]", when it is null. */
    private static void checkRows(Object wrapped) {
        if (wrapped instanceof Object[] rows && rows.length == 1 && rows[0] == null) {
            throw new IllegalArgumentException("values is null");
        }
    }

    private static Html plotly(ViewCall call, String op, String title, Integer width, Integer height, boolean shared) {
        call.put("title", title).put("width", width).put("height", height)
                .put("include_plotlyjs", shared ? "directory" : (Object) Boolean.TRUE);
        return call.render(op);
    }
}
