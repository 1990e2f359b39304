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
        return new HeatmapOptions(value, x, y, xaxis, yaxis, caxis, midpoint, zmin, zmax, aspect, width, height, sharedPlotlyJs);
    }

    /** Column labels: strings (tokens) or numbers. */
    public HeatmapOptions withX(List<?> value) {
        return new HeatmapOptions(title, value, y, xaxis, yaxis, caxis, midpoint, zmin, zmax, aspect, width, height, sharedPlotlyJs);
    }

    /** Row labels: strings or numbers. */
    public HeatmapOptions withY(List<?> value) {
        return new HeatmapOptions(title, x, value, xaxis, yaxis, caxis, midpoint, zmin, zmax, aspect, width, height, sharedPlotlyJs);
    }

    public HeatmapOptions withXaxis(String value) {
        return new HeatmapOptions(title, x, y, value, yaxis, caxis, midpoint, zmin, zmax, aspect, width, height, sharedPlotlyJs);
    }

    public HeatmapOptions withYaxis(String value) {
        return new HeatmapOptions(title, x, y, xaxis, value, caxis, midpoint, zmin, zmax, aspect, width, height, sharedPlotlyJs);
    }

    public HeatmapOptions withCaxis(String value) {
        return new HeatmapOptions(title, x, y, xaxis, yaxis, value, midpoint, zmin, zmax, aspect, width, height, sharedPlotlyJs);
    }

    /** The value drawn white; null for no midpoint. */
    public HeatmapOptions withMidpoint(Double value) {
        return new HeatmapOptions(title, x, y, xaxis, yaxis, caxis, value, zmin, zmax, aspect, width, height, sharedPlotlyJs);
    }

    public HeatmapOptions withZmin(Double value) {
        return new HeatmapOptions(title, x, y, xaxis, yaxis, caxis, midpoint, value, zmax, aspect, width, height, sharedPlotlyJs);
    }

    public HeatmapOptions withZmax(Double value) {
        return new HeatmapOptions(title, x, y, xaxis, yaxis, caxis, midpoint, zmin, value, aspect, width, height, sharedPlotlyJs);
    }

    public HeatmapOptions withAspect(Aspect value) {
        return new HeatmapOptions(title, x, y, xaxis, yaxis, caxis, midpoint, zmin, zmax, value, width, height, sharedPlotlyJs);
    }

    /** The figure's size in pixels; nulls fill the window. */
    public HeatmapOptions withSize(Integer w, Integer h) {
        return new HeatmapOptions(title, x, y, xaxis, yaxis, caxis, midpoint, zmin, zmax, aspect, w, h, sharedPlotlyJs);
    }

    public HeatmapOptions withSharedPlotlyJs(boolean value) {
        return new HeatmapOptions(title, x, y, xaxis, yaxis, caxis, midpoint, zmin, zmax, aspect, width, height, value);
    }
}
