package org.lens4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.ErrorKind;
import org.lens4j.analysis.Metrics;

/**
 * Words outside the bundled toy tokenizer's vocabulary become its {@code <|unk|>} token: as an
 * answer (a single token) that is an error, in a prompt a warning in the Lens's log.
 */
class UnknownTokenTest {
    private static final List<String> LOG = new CopyOnWriteArrayList<>();
    private static Lens lens;
    private static Model model;

    @BeforeAll
    static void start() {
        lens = Lens.start(TestLens.options().withLog(LOG::add));
        model = lens.load("toy-ioi");
    }

    @AfterAll
    static void stop() {
        lens.close();
    }

    private static List<String> warnings() {
        return LOG.stream().filter(l -> l.contains("lens4j warning:")).toList();
    }

    @Test
    void anUnknownSingleTokenAnswerIsAnError() {
        LensException e = assertThrows(LensException.class, () -> model.toSingleToken(" Johnathan"));
        assertEquals(ErrorKind.NOT_SINGLE_TOKEN, e.kind());
        assertTrue(e.getMessage().contains("not in the tokenizer's vocabulary") && e.getMessage().contains("<|unk|>"), e.getMessage());

        String prompt = "When John and Mary went to the shops, John gave the bag to";
        try (Tensor logits = model.logits(prompt)) {
            LensException d = assertThrows(LensException.class, () -> Metrics.logitDiff(" Johnathan", " John").evaluate(model, logits));
            assertTrue(d.getMessage().contains("' Johnathan' is not in the tokenizer's vocabulary"), d.getMessage());
            // A known answer pair still measures.
            assertTrue(Double.isFinite(Metrics.logitDiff(" Mary", " John").evaluate(model, logits)));
        }
    }

    @Test
    void aPromptWithAnUnknownWordRunsAndWarns() {
        LOG.clear();
        try (Tensor known = model.logits(List.of("When John and Mary went to the shops"))) {
            assertTrue(warnings().isEmpty(), "no warning for known words: " + warnings());
        }
        try (Tensor logits = model.logits(List.of("When John and Mary went to the shops", "When Johnathan and Mary went to the shops"))) {
            assertEquals(2, logits.shape()[0]);
        }
        List<String> w = warnings();
        assertEquals(1, w.size(), LOG.toString());
        assertTrue(w.get(0).contains("1 of 2 prompt(s)") && w.get(0).contains("prompt 1 'When Johnathan") && w.get(0).contains("<|unk|>"), w.get(0));
        assertFalse(w.get(0).contains("prompt 0"), w.get(0));
    }
}
