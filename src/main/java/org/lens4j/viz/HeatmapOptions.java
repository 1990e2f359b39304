package org.lens4j.viz;

import java.util.List;

/**
 * Options of {@link Figures#imshow}: labels, axis titles and the colour scale of a heatmap.
 * The scale is plotly express' 11-stop RdBu with its midpoint at 0, as the seeds draw it.
 *
 * <pre>{@code
 * Html page = Figures.imshow(lens, patching,                     // double[layers][positions]
 *         HeatmapOptions.titled("Patching result").withX(tokens).withXaxis("Position").withYaxis("Layer"));
 * }</pre>
 *
 * @param title the figure's title and the page's (null: no figure title, page title "Heatmap")
 * @param x one label per column (strings or numbers), such as the prompt's tokens; tokens may repeat
 * @param y one label per row, such as layer indices
 * @param xaxis the x axis title (the hover text calls the column this)
 * @param yaxis the y axis title
 * @param caxis the colour bar's title
 * @param midpoint the value drawn white (default 0); null for none (the scale then spans zmin..zmax)
 * @param zmin the value drawn darkest red (default from the data)
 * @param zmax the value drawn darkest blue (default from the data)
 * @param aspect square cells ({@code EQUAL}) or filling the frame ({@code AUTO}); null is plotly's default
 * @param width the figure's width in pixels (null: the window's)
 * @param height the figure's height in pixels (null: the window's)
 * @param sharedPlotlyJs load plotly from one {@code plotly.min.js} beside the saved page instead of inlining it
 */
public record HeatmapOptions(String title, List<?> x, List<?> y, String xaxis, String yaxis, String caxis, Double midpoint,
                             Double zmin, Double zmax, Aspect aspect, Integer width, Integer height, boolean sharedPlotlyJs) {

    /** How heatmap cells are shaped. */
    public enum Aspect {
        /** square cells */
        EQUAL,
        /** cells stretched to fill the figure */
        AUTO
    }

    public HeatmapOptions {
        ViewCall.positive(width, "width");
        ViewCall.positive(height, "height");
    }

    /** All defaults: RdBu around 0, no labels, plotly inlined. */
    public static HeatmapOptions defaults() {
        return new HeatmapOptions(null, null, null, null, null, null, 0.0, null, null, null, null, null, false);
    }

    /** Defaults with a title. */
    public static HeatmapOptions titled(String title) {
        return defaults().withTitle(title);
    }

    public HeatmapOptions withTitle(String value) {
        return with(b -> b.title = value);
    }

    /** Column labels: strings (tokens) or numbers. */
    public HeatmapOptions withX(List<?> value) {
        return with(b -> b.x = value);
    }

    /** Row labels: strings or numbers. */
    public HeatmapOptions withY(List<?> value) {
        return with(b -> b.y = value);
    }

    public HeatmapOptions withXaxis(String value) {
        return with(b -> b.xaxis = value);
    }

    public HeatmapOptions withYaxis(String value) {
        return with(b -> b.yaxis = value);
    }

    public HeatmapOptions withCaxis(String value) {
        return with(b -> b.caxis = value);
    }

    /** The value drawn white; null for no midpoint. */
    public HeatmapOptions withMidpoint(Double value) {
        return with(b -> b.midpoint = value);
    }

    public HeatmapOptions withZmin(Double value) {
        return with(b -> b.zmin = value);
    }

    public HeatmapOptions withZmax(Double value) {
        return with(b -> b.zmax = value);
    }

    public HeatmapOptions withAspect(Aspect value) {
        return with(b -> b.aspect = value);
    }

    /** The figure's size in pixels; nulls fill the window. */
    public HeatmapOptions withSize(Integer w, Integer h) {
        return with(b -> { b.width = w; b.height = h; });
    }

    public HeatmapOptions withSharedPlotlyJs(boolean value) {
        return with(b -> b.sharedPlotlyJs = value);
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private HeatmapOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new HeatmapOptions(b.title, b.x, b.y, b.xaxis, b.yaxis, b.caxis, b.midpoint, b.zmin, b.zmax, b.aspect, b.width,
                b.height, b.sharedPlotlyJs);
    }

    private static final class Builder {
        String title;
        List<?> x;
        List<?> y;
        String xaxis;
        String yaxis;
        String caxis;
        Double midpoint;
        Double zmin;
        Double zmax;
        Aspect aspect;
        Integer width;
        Integer height;
        boolean sharedPlotlyJs;

        Builder(HeatmapOptions o) {
            title = o.title; x = o.x; y = o.y; xaxis = o.xaxis; yaxis = o.yaxis; caxis = o.caxis; midpoint = o.midpoint;
            zmin = o.zmin; zmax = o.zmax; aspect = o.aspect; width = o.width; height = o.height;
            sharedPlotlyJs = o.sharedPlotlyJs;
        }
    }
}
