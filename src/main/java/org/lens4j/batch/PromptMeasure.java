package org.lens4j.batch;

import java.io.Serializable;
import java.util.List;
import org.lens4j.Model;

/**
 * What to compute for a chunk of prompts: rows of {@code (id, measure, value)}, typically a
 * few per prompt. A measure sees a whole chunk so that it can run the model once on a batch.
 * It is {@link Serializable} so that Spark can ship it to executors; a lambda assigned to this
 * type is serializable when what it captures is.
 *
 * <pre>{@code
 * PromptMeasure loss = (model, chunk) -> chunk.stream()
 *         .map(p -> PromptResult.of(p.id(), "loss", model.loss(p.clean())))
 *         .toList();
 * }</pre>
 *
 * @see PromptMeasures for the built-in measures
 */
@FunctionalInterface
public interface PromptMeasure extends Serializable {
    /** The result rows of one chunk, for prompts of that chunk only. */
    List<PromptResult> measure(Model model, List<PromptRecord> chunk);
}
