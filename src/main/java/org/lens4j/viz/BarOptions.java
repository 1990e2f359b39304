package org.lens4j.viz;

import java.util.List;
import java.util.Locale;

/**
 * Options of {@link Figures#bar}: one series of bars per row of the values.
 *
 * <pre>{@code
 * Html page = Figures.bar(lens, new double[][] {zero, mean},
 *         BarOptions.titled("Ablation by head").withNames(List.of("zero", "mean")).withX(List.of("9.6", "9.9", "10.0"))
 *                 .withBarmode(BarOptions.Barmode.GROUP));
 * }</pre>
 *
 * @param title the figure's title and the page's (null: no figure title, page title "Bar chart")
 * @param names one legend name per series (shown when there is more than one)
 * @param x one label per bar (strings or numbers)
 * @param xaxis the x axis title
 * @param yaxis the y axis title
 * @param barmode how several series share a position (default {@code GROUP})
 * @param width the figure's width in pixels (null: the window's)
 * @param height the figure's height in pixels (null: the window's)
 * @param sharedPlotlyJs load plotly from one {@code plotly.min.js} beside the saved page instead of inlining it
 */
public record BarOptions(String title, List<String> names, List<?> x, String xaxis, String yaxis, Barmode barmode,
                         Integer width, Integer height, boolean sharedPlotlyJs) {

    /** plotly's barmode. */
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

    public BarOptions {
        ViewCall.positive(width, "width");
        ViewCall.positive(height, "height");
    }

    /** All defaults. */
    public static BarOptions defaults() {
        return new BarOptions(null, null, null, null, null, null, null, null, false);
    }

    /** Defaults with a title. */
    public static BarOptions titled(String title) {
        return defaults().withTitle(title);
    }

    public BarOptions withTitle(String value) {
        return with(b -> b.title = value);
    }

    public BarOptions withNames(List<String> value) {
        return with(b -> b.names = value);
    }

    public BarOptions withX(List<?> value) {
        return with(b -> b.x = value);
    }

    public BarOptions withXaxis(String value) {
        return with(b -> b.xaxis = value);
    }

    public BarOptions withYaxis(String value) {
        return with(b -> b.yaxis = value);
    }

    public BarOptions withBarmode(Barmode value) {
        return with(b -> b.barmode = value);
    }

    public BarOptions withSize(Integer w, Integer h) {
        return with(b -> { b.width = w; b.height = h; });
    }

    public BarOptions withSharedPlotlyJs(boolean value) {
        return with(b -> b.sharedPlotlyJs = value);
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private BarOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new BarOptions(b.title, b.names, b.x, b.xaxis, b.yaxis, b.barmode, b.width, b.height, b.sharedPlotlyJs);
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

        Builder(BarOptions o) {
            title = o.title; names = o.names; x = o.x; xaxis = o.xaxis; yaxis = o.yaxis; barmode = o.barmode; width = o.width;
            height = o.height; sharedPlotlyJs = o.sharedPlotlyJs;
        }
    }
}
