package org.lens4j.viz;

import java.util.List;
import java.util.Locale;

/**
 * Options of {@link Figures#line} and {@link Figures#bar}, plotly express' {@code px.line} and
 * {@code px.bar}: one series (a line, or a set of bars) per row of the values. {@code barmode}
 * applies to bar charts only.
 *
 * <pre>{@code
 * Html dla = Figures.line(lens, new double[][] {dla},
 *         SeriesOptions.titled("Logit difference by layer").withX(List.of("0_pre", "0_mid", "1_pre", "1_mid", "final_post"))
 *                 .withXaxis("Layer").withYaxis("Logit diff"));
 * Html bars = Figures.bar(lens, new double[][] {zero, mean},
 *         SeriesOptions.titled("Ablation by head").withNames(List.of("zero", "mean")).withX(List.of("9.6", "9.9", "10.0"))
 *                 .withBarmode(SeriesOptions.Barmode.GROUP));
 * }</pre>
 *
 * @param title the figure's title and the page's (null: no figure title, page title "Line plot" or "Bar chart")
 * @param names one legend name per series (shown when there is more than one)
 * @param x one label per point or bar (strings or numbers), such as layer labels
 * @param xaxis the x axis title
 * @param yaxis the y axis title
 * @param barmode how several series of bars share a position (default {@code GROUP}); line plots ignore it
 * @param width the figure's width in pixels (null: the window's)
 * @param height the figure's height in pixels (null: the window's)
 * @param sharedPlotlyJs load plotly from one {@code plotly.min.js} beside the saved page instead of inlining it
 */
public record SeriesOptions(String title, List<String> names, List<?> x, String xaxis, String yaxis, Barmode barmode,
                         Integer width, Integer height, boolean sharedPlotlyJs) {

    /** plotly's barmode: how a bar chart draws several series at one position. */
    public enum Barmode {
        /** side by side */
        GROUP,
        /** stacked */
        STACK,
        /** stacked, negative values below the axis */
        RELATIVE,
        /** drawn over each other */
        OVERLAY;

        String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public SeriesOptions {
        ViewCall.positive(width, "width");
        ViewCall.positive(height, "height");
    }

    /** All defaults. */
    public static SeriesOptions defaults() {
        return new SeriesOptions(null, null, null, null, null, null, null, null, false);
    }

    /** Defaults with a title. */
    public static SeriesOptions titled(String title) {
        return defaults().withTitle(title);
    }

    public SeriesOptions withTitle(String value) {
        return with(b -> b.title = value);
    }

    public SeriesOptions withNames(List<String> value) {
        return with(b -> b.names = value);
    }

    public SeriesOptions withX(List<?> value) {
        return with(b -> b.x = value);
    }

    public SeriesOptions withXaxis(String value) {
        return with(b -> b.xaxis = value);
    }

    public SeriesOptions withYaxis(String value) {
        return with(b -> b.yaxis = value);
    }

    public SeriesOptions withBarmode(Barmode value) {
        return with(b -> b.barmode = value);
    }

    public SeriesOptions withSize(Integer w, Integer h) {
        return with(b -> { b.width = w; b.height = h; });
    }

    public SeriesOptions withSharedPlotlyJs(boolean value) {
        return with(b -> b.sharedPlotlyJs = value);
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private SeriesOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new SeriesOptions(b.title, b.names, b.x, b.xaxis, b.yaxis, b.barmode, b.width, b.height, b.sharedPlotlyJs);
    }

    private static final class Builder {
        String title;
        List<String> names;
        List<?> x;
        String xaxis;
        String yaxis;
        Barmode barmode;
        Integer width;
        Integer height;
        boolean sharedPlotlyJs;

        Builder(SeriesOptions o) {
            title = o.title; names = o.names; x = o.x; xaxis = o.xaxis; yaxis = o.yaxis; barmode = o.barmode; width = o.width;
            height = o.height; sharedPlotlyJs = o.sharedPlotlyJs;
        }
    }
}
