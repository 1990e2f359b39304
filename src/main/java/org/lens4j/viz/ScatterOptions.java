package org.lens4j.viz;

import java.util.List;

/**
 * Options of {@link Figures#scatter}.
 *
 * <pre>{@code
 * Html page = Figures.scatter(lens, ablated, original,
 *         ScatterOptions.titled("Ablated vs original logit diff").withHoverNames(promptLabels)
 *                 .withColor(List.of("IOI", "IOI", "ABBA")).withXaxis("Ablated").withYaxis("Original"));
 * }</pre>
 *
 * @param title the figure's title and the page's (null: no figure title, page title "Scatter plot")
 * @param hoverNames one label per point, shown on hover
 * @param color one entry per point: strings group the points (one legend entry per group),
 *              numbers colour them on a scale
 * @param xaxis the x axis title
 * @param yaxis the y axis title
 * @param caxis the colour legend's title
 * @param width the figure's width in pixels (null: the window's)
 * @param height the figure's height in pixels (null: the window's)
 * @param sharedPlotlyJs load plotly from one {@code plotly.min.js} beside the saved page instead of inlining it
 */
public record ScatterOptions(String title, List<String> hoverNames, List<?> color, String xaxis, String yaxis, String caxis,
                             Integer width, Integer height, boolean sharedPlotlyJs) {

    public ScatterOptions {
        ViewCall.positive(width, "width");
        ViewCall.positive(height, "height");
    }

    /** All defaults. */
    public static ScatterOptions defaults() {
        return new ScatterOptions(null, null, null, null, null, null, null, null, false);
    }

    /** Defaults with a title. */
    public static ScatterOptions titled(String title) {
        return defaults().withTitle(title);
    }

    public ScatterOptions withTitle(String value) {
        return new ScatterOptions(value, hoverNames, color, xaxis, yaxis, caxis, width, height, sharedPlotlyJs);
    }

    public ScatterOptions withHoverNames(List<String> value) {
        return new ScatterOptions(title, value, color, xaxis, yaxis, caxis, width, height, sharedPlotlyJs);
    }

    /** Strings (groups) or numbers (a colour scale), one per point. */
    public ScatterOptions withColor(List<?> value) {
        return new ScatterOptions(title, hoverNames, value, xaxis, yaxis, caxis, width, height, sharedPlotlyJs);
    }

    public ScatterOptions withXaxis(String value) {
        return new ScatterOptions(title, hoverNames, color, value, yaxis, caxis, width, height, sharedPlotlyJs);
    }

    public ScatterOptions withYaxis(String value) {
        return new ScatterOptions(title, hoverNames, color, xaxis, value, caxis, width, height, sharedPlotlyJs);
    }

    public ScatterOptions withCaxis(String value) {
        return new ScatterOptions(title, hoverNames, color, xaxis, yaxis, value, width, height, sharedPlotlyJs);
    }

    public ScatterOptions withSize(Integer w, Integer h) {
        return new ScatterOptions(title, hoverNames, color, xaxis, yaxis, caxis, w, h, sharedPlotlyJs);
    }

    public ScatterOptions withSharedPlotlyJs(boolean value) {
        return new ScatterOptions(title, hoverNames, color, xaxis, yaxis, caxis, width, height, value);
    }
}
