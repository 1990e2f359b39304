package org.lens4j.examples;

import java.util.List;
import java.util.regex.Pattern;
import org.lens4j.Model;
import org.lens4j.Tensor;

/**
 * The token range the seeds draw "repeated random tokens" from: {@code randint(100, 20000)} for
 * GPT-2-sized vocabularies. The toy models have about 1,700 tokens, and their word tokens
 * (" word": a space, then letters) come last; random tokens are drawn from those, so that the
 * sequences decode to text that tokenizes back to the same ids (as {@code detect_head} needs).
 */
final class RandomTokens {
    private static final Pattern WORD = Pattern.compile("^ \\p{L}+$");

    private RandomTokens() {
    }

    /** {@code [low, high)} for {@code randint}. */
    static int[] range(Model model) {
        int vocab = model.cfg().dVocab();
        if (vocab > 20000) {
            return new int[] {100, 20000};
        }
        long[] ids = new long[vocab];
        for (int i = 0; i < vocab; i++) {
            ids[i] = i;
        }
        List<String> tokens;
        try (Tensor all = model.lens().tensor(ids, vocab)) {
            tokens = model.toStrTokens(all);
        }
        int first = vocab;
        while (first > 0 && WORD.matcher(tokens.get(first - 1)).matches()) {
            first--;
        }
        // No block of word tokens at the end (some other small model): the seeds' lower bound.
        return vocab - first >= 50 ? new int[] {first, vocab} : new int[] {Math.min(100, vocab - 1), vocab};
    }
}
