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
        return new LineOptions(value, names, x, xaxis, yaxis, width, height, sharedPlotlyJs);
    }

    public LineOptions withNames(List<String> value) {
        return new LineOptions(title, value, x, xaxis, yaxis, width, height, sharedPlotlyJs);
    }

    public LineOptions withX(List<?> value) {
        return new LineOptions(title, names, value, xaxis, yaxis, width, height, sharedPlotlyJs);
    }

    public LineOptions withXaxis(String value) {
        return new LineOptions(title, names, x, value, yaxis, width, height, sharedPlotlyJs);
    }

    public LineOptions withYaxis(String value) {
        return new LineOptions(title, names, x, xaxis, value, width, height, sharedPlotlyJs);
    }

    public LineOptions withSize(Integer w, Integer h) {
        return new LineOptions(title, names, x, xaxis, yaxis, w, h, sharedPlotlyJs);
    }

    public LineOptions withSharedPlotlyJs(boolean value) {
        return new LineOptions(title, names, x, xaxis, yaxis, width, height, value);
    }
}
