package org.lens4j.batch;

import java.io.Serializable;
import java.util.Objects;

/**
 * One value of a measure for one prompt: a row of the long-format result table
 * ({@code id, measure, value}) that joins back to the dataset on {@code id}.
 *
 * <pre>{@code
 * PromptResult r = new PromptResult("ioi-0", "logit_diff_clean", 3.25);
 * }</pre>
 *
 * @param id the prompt's id
 * @param measure what was measured, e.g. "logit_diff_clean"
 * @param value the value (NaN where the measure has none for this prompt)
 */
public record PromptResult(String id, String measure, double value) implements Serializable {
    public PromptResult {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(measure, "measure");
    }
}
