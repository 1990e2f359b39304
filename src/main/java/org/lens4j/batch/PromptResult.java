package org.lens4j.batch;

import java.io.Serializable;
import java.util.List;
import java.util.Objects;
import org.lens4j.data.ResultRow;
import org.lens4j.data.ResultTable;

/**
 * One value for one prompt: a row of the long-format result table that joins back to the
 * dataset on {@code id}. A metric gives one row per prompt and quantity (layer, position, head
 * and label null); an analysis that returns a grid per prompt (a patching sweep) gives one row
 * per cell, with the cell's columns as in {@link ResultRow}.
 *
 * <pre>{@code
 * PromptResult metric = PromptResult.of("ioi-0", "logit_diff_clean", 3.25);
 * List<PromptResult> cells = PromptResult.of("ioi-0", "patching/resid_pre", ResultTable.of(sweep));
 * }</pre>
 *
 * @param id the prompt's id
 * @param measure what was measured, e.g. "logit_diff_clean" or "patching/resid_pre"
 * @param layer the cell's layer, or null
 * @param position the cell's token position, or null
 * @param head the cell's head, or null
 * @param label the cell's label (a token, patch type, ...), or null
 * @param value the value (NaN where the measure has none for this prompt)
 */
public record PromptResult(String id, String measure, Integer layer, Integer position, Integer head, String label, double value)
        implements Serializable {
    public PromptResult {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(measure, "measure");
    }

    /** A row of a metric: one value for the prompt, no cell. */
    public static PromptResult of(String id, String measure, double value) {
        return new PromptResult(id, measure, null, null, null, null, value);
    }

    /** The rows of one prompt's grid result, one per cell, in the table's order. */
    public static List<PromptResult> of(String id, String measure, ResultTable table) {
        return table.rows().stream()
                .map(r -> new PromptResult(id, measure, r.layer(), r.position(), r.head(), r.label(), r.value()))
                .toList();
    }

    /** "id/measure/layer/position/head/label": what identifies a row within a run's results. */
    public String key() {
        return id + "/" + measure + "/" + layer + "/" + position + "/" + head + "/" + label;
    }
}
