package org.lens4j.analysis;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.lens4j.InvalidInputException;

/**
 * A correct and an incorrect answer token, for the logit difference
 * {@code logit(correct) - logit(incorrect)}. Each is a text that must be exactly one token
 * (mind the leading space: {@code " Mary"}) or a token id; an answer of several tokens fails
 * when the metric runs, with an {@link InvalidInputException} that shows its tokens.
 *
 * <pre>{@code
 * AnswerPair mary = AnswerPair.of(" Mary", " John");
 * AnswerPair byId = AnswerPair.of(1234, 5678);
 * List<AnswerPair> perPrompt = AnswerPair.list(" Mary", " John", " John", " Mary");  // two prompts
 * }</pre>
 *
 * @param correct a one-token text ({@code String}) or a token id ({@code Integer})
 * @param incorrect the same for the incorrect answer
 */
public record AnswerPair(Object correct, Object incorrect) {
    public AnswerPair {
        correct = checkToken(correct, "correct answer");
        incorrect = checkToken(incorrect, "incorrect answer");
    }

    public static AnswerPair of(String correct, String incorrect) {
        return new AnswerPair(correct, incorrect);
    }

    public static AnswerPair of(int correct, int incorrect) {
        return new AnswerPair(correct, incorrect);
    }

    /** Pairs from texts given flat: correct, incorrect, correct, incorrect, ... (one pair per prompt). */
    public static List<AnswerPair> list(String... correctThenIncorrect) {
        if (correctThenIncorrect.length == 0 || correctThenIncorrect.length % 2 != 0) {
            throw new InvalidInputException("give answers as correct, incorrect, correct, incorrect, ...: an even, non-zero count; got "
                    + correctThenIncorrect.length + " " + Arrays.toString(correctThenIncorrect));
        }
        List<AnswerPair> out = new ArrayList<>();
        for (int i = 0; i < correctThenIncorrect.length; i += 2) {
            out.add(of(correctThenIncorrect[i], correctThenIncorrect[i + 1]));
        }
        return out;
    }

    /** A token argument: a non-empty text or an id >= 0 (Long and Short ids are taken as ints). */
    static Object checkToken(Object token, String what) {
        if (token instanceof String s) {
            if (s.isEmpty()) {
                throw new InvalidInputException(what + " is an empty text: give a one-token text such as \" Mary\" or a token id");
            }
            return s;
        }
        if (token instanceof Integer || token instanceof Long || token instanceof Short) {
            long id = ((Number) token).longValue();
            if (id < 0 || id > Integer.MAX_VALUE) {
                throw new InvalidInputException(what + " id " + id + " is out of range: token ids are >= 0");
            }
            return (int) id;
        }
        throw new InvalidInputException(what + " must be a one-token text (String) or a token id (Integer); got "
                + (token == null ? "null" : token.getClass().getSimpleName()));
    }

    List<Object> wire() {
        return List.of(correct, incorrect);
    }

    static List<List<Object>> wire(List<AnswerPair> answers) {
        if (answers == null || answers.isEmpty()) {
            throw new InvalidInputException("answers must be a non-empty list of (correct, incorrect) pairs: one for all prompts, or one per prompt");
        }
        List<List<Object>> out = new ArrayList<>();
        for (AnswerPair p : answers) {
            if (p == null) {
                throw new InvalidInputException("the list of answer pairs contains null");
            }
            out.add(p.wire());
        }
        return out;
    }
}
