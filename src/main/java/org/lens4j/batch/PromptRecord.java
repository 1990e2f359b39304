package org.lens4j.batch;

import java.io.Serializable;
import org.lens4j.InvalidInputException;

/**
 * One row of a prompt dataset: a clean prompt, optionally its corrupted counterpart, and the
 * answers whose logit difference the measures read ({@code correct} and {@code incorrect}
 * are one-token texts such as {@code " Mary"}, or null where a measure needs no answers).
 *
 * <pre>{@code
 * PromptRecord p = new PromptRecord("ioi-0", "When John and Mary went to the shops, John gave the bag to",
 *         "When John and Mary went to the shops, Mary gave the bag to", " Mary", " John");
 * }</pre>
 *
 * @param id a key that names the prompt in the results (unique within a dataset)
 * @param clean the prompt
 * @param corrupted the corrupted prompt, or null
 * @param correct the correct answer token, or null
 * @param incorrect the incorrect answer token, or null (given exactly when {@code correct} is)
 */
public record PromptRecord(String id, String clean, String corrupted, String correct, String incorrect) implements Serializable {
    public PromptRecord {
        if (id == null || id.isEmpty()) {
            throw new InvalidInputException("a prompt record needs a non-empty id (it names the prompt in the results)");
        }
        if (clean == null || clean.isEmpty()) {
            throw new InvalidInputException("prompt record '" + id + "' has no clean prompt");
        }
        if ((correct == null) != (incorrect == null)) {
            throw new InvalidInputException("prompt record '" + id + "' gives one answer; give both correct and incorrect, or neither");
        }
    }

    /** A prompt with answers and no corrupted counterpart. */
    public static PromptRecord of(String id, String clean, String correct, String incorrect) {
        return new PromptRecord(id, clean, null, correct, incorrect);
    }

    public boolean hasAnswers() {
        return correct != null;
    }
}
