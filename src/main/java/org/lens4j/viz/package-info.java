/**
 * Views: circuitsvis components ({@link org.lens4j.viz.Views}) and plotly figures
 * ({@link org.lens4j.viz.Figures}) as self-contained offline HTML pages ({@link org.lens4j.viz.Html}),
 * rendered by the real circuitsvis and plotly in the worker.
 *
 * <pre>{@code
 * try (Lens lens = Lens.start()) {
 *     Html page = Figures.imshow(lens, new double[][] {{1.0, -0.5}, {0.2, 2.0}},
 *             HeatmapOptions.titled("Logit difference").withX(List.of("John", "Mary")).withYaxis("Layer"));
 *     page.save(Path.of("views/logit-diff.html"));
 * }
 * }</pre>
 *
 * <p>Guide: {@code docs/views.md}.
 */
package org.lens4j.viz;
