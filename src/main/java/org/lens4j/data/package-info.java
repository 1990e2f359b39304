/**
 * Results as data, for JVM data tools: {@link org.lens4j.data.Npy} and {@link org.lens4j.data.Npz}
 * (NumPy's files, for tensors, Java arrays and cache subsets), {@link org.lens4j.data.ResultTable}
 * and {@link org.lens4j.data.ResultRow} (analysis grids as long-format rows, CSV and JSON lines;
 * a result joins by implementing {@link org.lens4j.data.ResultTable.Source}, so this package
 * never refers to the analyses),
 * and {@link org.lens4j.LensJsonModule} (the Jackson module that
 * {@code org.lens4j.analysis.AnalysisJson.MAPPER} registers). docs/data-tools.md has the recipes.
 *
 * <pre>{@code
 * Npy.write(Path.of("logits.npy"), model.logits(prompt));
 * ResultTable.of(Patching.sweep(model, clean, corrupted, metric, Patching.Kind.RESID_PRE)).writeCsv(Path.of("sweep.csv"));
 * }</pre>
 */
package org.lens4j.data;
