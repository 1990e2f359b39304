package org.lens4j.analysis;

import java.util.ArrayList;
import java.util.List;
import org.lens4j.InvalidInputException;

/**
 * Two prompts that differ in the one thing an activation dataset contrasts (seed 003: a true
 * and a false statement, a task and another task).
 *
 * <pre>{@code
 * List<PromptPair> pairs = List.of(PromptPair.of("Love :", "Love : hate"), PromptPair.of("good :", "good : bad"));
 * }</pre>
 *
 * @param a the first prompt (the "a" side of the dataset)
 * @param b the second prompt
 */
public record PromptPair(String a, String b) {
    public PromptPair {
        if (a == null || b == null || a.isEmpty() || b.isEmpty()) {
            throw new InvalidInputException("both prompts of a pair must be non-empty texts; got (" + a + ", " + b + ")");
        }
    }

    public static PromptPair of(String a, String b) {
        return new PromptPair(a, b);
    }

    static List<List<String>> wire(List<PromptPair> pairs) {
        if (pairs == null || pairs.isEmpty()) {
            throw new InvalidInputException("give at least one prompt pair");
        }
        List<List<String>> out = new ArrayList<>();
        for (PromptPair p : pairs) {
            if (p == null) {
                throw new InvalidInputException("the list of prompt pairs contains null");
            }
            out.add(List.of(p.a(), p.b()));
        }
        return out;
    }
}
