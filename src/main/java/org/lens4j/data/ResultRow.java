package org.lens4j.data;

import java.io.Serializable;

/**
 * One cell of an analysis result in long format: where it is (layer, position, head; null
 * where the result has no such axis), what it is (a label) and its value. Rows of different
 * results concatenate into one table that a data frame, SQL or Spark groups and joins without
 * knowing each result's grid shape. {@link ResultTable} makes them and documents, per result
 * type, what each column holds.
 *
 * <pre>{@code
 * ResultRow r = new ResultRow(1, 3, null, " Mary", 0.42);   // layer 1, position 3 (token " Mary")
 * String json = AnalysisJson.toJson(r);                   // {"layer":1,"position":3,"head":null,"label":" Mary","value":0.42}
 * }</pre>
 *
 * @param layer the layer, from 0; null where the result has no layer axis (or a row such as "embed")
 * @param position the token position, from 0; null where the result has no position axis
 * @param head the head within the layer, from 0; null where the result has no head axis
 * @param label what names the cell beyond the numbers: a patch type, ablation method, component
 *     or token (see {@link ResultTable}); null where there is none
 * @param value the value; NaN where the result has none (such as heads an ablation did not touch)
 */
public record ResultRow(Integer layer, Integer position, Integer head, String label, double value) implements Serializable {
}
