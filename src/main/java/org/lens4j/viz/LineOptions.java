package org.lens4j.viz;

import java.util.List;

/**
 * Options of {@link Figures#line}: one line per row of the values.
 *
 * <pre>{@code
 * Html page = Figures.line(lens, new double[][] {dla},
 *         LineOptions.titled("Logit difference by layer").withX(List.of("0_pre", "0_mid", "1_pre", "1_mid", "final_post"))
 *                 .withXaxis("Layer").withYaxis("Logit diff"));
 * }</pre>
 *
 * @param title the figure's title and the page's (null: no figure title, page title "Line plot")
 * @param names one legend name per line (shown when there is more than one line)
 * @param x one label per point (strings or numbers), such as layer labels
 * @param xaxis the x axis title
 * @param yaxis the y axis title
 * @param width the figure's width in pixels (null: the window's)
 * @param height the figure's height in pixels (null: the window's)
 * @param sharedPlotlyJs load plotly from one {@code plotly.min.js} beside the saved page instead of inlining it
 */
public record LineOptions(String title, List<String> names, List<?> x, String xaxis, String yaxis,
                          Integer width, Integer height, boolean sharedPlotlyJs) {

    public LineOptions {
        ViewCall.positive(width, "width");
        ViewCall.positive(height, "height");
    }

    /** All defaults. */
    public static LineOptions defaults() {
        return new LineOptions(null, null, null, null, null, null, null, false);
    }

    /** Defaults with a title. */
    public static LineOptions titled(String title) {
        return defaults().withTitle(title);
    }

    public LineOptions withTitle(String value) {
        return with(b -> b.title = value);
    }

    public LineOptions withNames(List<String> value) {
        return with(b -> b.names = value);
    }

    public LineOptions withX(List<?> value) {
        return with(b -> b.x = value);
    }

    public LineOptions withXaxis(String value) {
        return with(b -> b.xaxis = value);
    }

    public LineOptions withYaxis(String value) {
        return with(b -> b.yaxis = value);
    }

    public LineOptions withSize(Integer w, Integer h) {
        return with(b -> { b.width = w; b.height = h; });
    }

    public LineOptions withSharedPlotlyJs(boolean value) {
        return with(b -> b.sharedPlotlyJs = value);
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private LineOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new LineOptions(b.title, b.names, b.x, b.xaxis, b.yaxis, b.width, b.height, b.sharedPlotlyJs);
    }

    private static final class Builder {
        String title;
        List<String> names;
        List<?> x;
        String xaxis;
        String yaxis;
        Integer width;
        Integer height;
        boolean sharedPlotlyJs;

        Builder(LineOptions o) {
            title = o.title; names = o.names; x = o.x; xaxis = o.xaxis; yaxis = o.yaxis; width = o.width; height = o.height;
            sharedPlotlyJs = o.sharedPlotlyJs;
        }
    }
}
