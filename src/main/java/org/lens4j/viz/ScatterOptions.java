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
        return with(b -> b.title = value);
    }

    public ScatterOptions withHoverNames(List<String> value) {
        return with(b -> b.hoverNames = value);
    }

    /** Strings (groups) or numbers (a colour scale), one per point. */
    public ScatterOptions withColor(List<?> value) {
        return with(b -> b.color = value);
    }

    public ScatterOptions withXaxis(String value) {
        return with(b -> b.xaxis = value);
    }

    public ScatterOptions withYaxis(String value) {
        return with(b -> b.yaxis = value);
    }

    public ScatterOptions withCaxis(String value) {
        return with(b -> b.caxis = value);
    }

    public ScatterOptions withSize(Integer w, Integer h) {
        return with(b -> { b.width = w; b.height = h; });
    }

    public ScatterOptions withSharedPlotlyJs(boolean value) {
        return with(b -> b.sharedPlotlyJs = value);
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private ScatterOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new ScatterOptions(b.title, b.hoverNames, b.color, b.xaxis, b.yaxis, b.caxis, b.width, b.height, b.sharedPlotlyJs);
    }

    private static final class Builder {
        String title;
        List<String> hoverNames;
        List<?> color;
        String xaxis;
        String yaxis;
        String caxis;
        Integer width;
        Integer height;
        boolean sharedPlotlyJs;

        Builder(ScatterOptions o) {
            title = o.title; hoverNames = o.hoverNames; color = o.color; xaxis = o.xaxis; yaxis = o.yaxis; caxis = o.caxis;
            width = o.width; height = o.height; sharedPlotlyJs = o.sharedPlotlyJs;
        }
    }
}
