package org.lens4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.lens4j.hook.GenerateOptions;
import org.lens4j.hook.Generation;

/** {@link Run} and {@link Generation} print a first line that says what they are, then the detail. */
class RunToStringTest {

    @Test
    void aRunSaysItIsARunBeforeTheLogitsAndTheCache() {
        try (Run run = TestLens.tiny().runWithCache(TestLens.PROMPT, Names.only("pattern"))) {
            String s = run.toString();
            String first = s.lines().findFirst().orElseThrow();
            assertTrue(first.startsWith("Run: logits ") && first.contains(java.util.Arrays.toString(run.logits().shape()))
                    && first.endsWith("cache of " + run.cache().size() + " entries"), first);
            assertTrue(s.contains("\nlogits: Tensor[") && s.contains("\ncache: ActivationCache["), s);
        }
    }

    @Test
    void aGenerationSaysItIsAGenerationBeforeTheTexts() {
        try (Generation g = TestLens.tiny().generate(TestLens.PROMPT, GenerateOptions.greedy(3))) {
            String s = g.toString();
            String first = s.lines().findFirst().orElseThrow();
            assertTrue(first.startsWith("Generation: 1 prompt, tokens ") && first.contains(java.util.Arrays.toString(g.tokens().shape()))
                    && first.endsWith("no logits"), first);
            assertTrue(s.contains("\ntext[0]: " + g.text()) && s.contains("\ntokens: Tensor["), s);
        }
    }
}
