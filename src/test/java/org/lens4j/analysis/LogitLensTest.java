package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lens4j.analysis.Fixtures.TOL;
import static org.lens4j.analysis.Fixtures.assertClose;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.InvalidInputException;
import org.lens4j.Model;

/** The logit lens against seed 003's logit_lens_analysis and seed 001's accumulated_resid formula, run with TransformerLens. */
class LogitLensTest {
    private static Model model;
    private static Fixtures.Reference ref;

    @BeforeAll
    static void setUp() {
        model = Fixtures.tiny();
        ref = Fixtures.ref();
    }

    @Test
    void seed003Ln2NormalizedGrid() {
        LogitLens.Result r = LogitLens.run(model, ref.get("/inputs/lens_prompt").asText(), LogitLens.Options.defaults());
        assertEquals(List.of("0_ln2", "1_ln2"), r.labels());
        double[][] kl = r.klGrid(0);
        assertClose(kl, ref.get("/logit_lens/ln2/kl"), TOL, "KL grid [pos][layer]");
        JsonNode topIds = ref.get("/logit_lens/ln2/top_ids");
        for (int p = 0; p < kl.length; p++) {
            for (int l = 0; l < 2; l++) {
                assertEquals(topIds.get(p).get(l).asLong(), r.topTokenIds()[l][0][p][0], "top token at pos " + p + ", layer " + l);
            }
        }
        // top-5 probabilities: reference is [pos][layer][k], ours [layer][prompt][pos][k]
        JsonNode top5 = ref.get("/logit_lens/ln2/top5_probs");
        for (int p = 0; p < kl.length; p++) {
            for (int l = 0; l < 2; l++) {
                assertClose(r.topProbs()[l][0][p], top5.get(p).get(l), TOL, "top-5 probs");
            }
        }
        assertEquals(r.topTokens()[0][0][0][0], r.topTokenGrid(0)[0][0]);
        assertNull(r.targetId());
        Fixtures.assertJsonRoundTrip(r);
    }

    @Test
    void seed001AccumulatedResidWithTarget() {
        LogitLens.Result r = LogitLens.run(model, ref.get("/inputs/prompt").asText(), LogitLens.Options.defaults()
                .withSource(LogitLens.Source.ACCUMULATED_RESID).withInclMid(true).withTarget(" Mary"));
        assertEquals(Fixtures.strings(ref.get("/logit_lens/accumulated/labels")), r.labels());
        assertClose(r.kl(), ref.get("/logit_lens/accumulated/kl"), TOL, "KL");
        assertClose(r.targetProbs(), ref.get("/logit_lens/accumulated/target_probs"), TOL, "target probability");
        assertClose(r.targetRanks(), ref.get("/logit_lens/accumulated/target_ranks"), 0, "target rank");
        JsonNode top = ref.get("/logit_lens/accumulated/top_ids");
        for (int row = 0; row < r.labels().size(); row++) {
            for (int p = 0; p < r.positions().length; p++) {
                assertEquals(top.get(row).get(p).asLong(), r.topTokenIds()[row][0][p][0]);
            }
        }
        assertEquals(model.toSingleToken(" Mary"), r.targetId());
        Fixtures.assertJsonRoundTrip(r);
    }

    @Test
    void residPostAtChosenPositions() {
        LogitLens.Result r = LogitLens.run(model, ref.get("/inputs/prompt").asText(),
                LogitLens.Options.defaults().withSource(LogitLens.Source.RESID_POST).withPositions(List.of(-1, 3)).withTopK(1));
        assertEquals(List.of("0_post", "1_post"), r.labels());
        assertEquals(14, r.positions()[0]);
        assertClose(r.kl(), ref.get("/logit_lens/resid_post/kl"), TOL, "KL");
        assertClose(r.topTokenIds(), ref.get("/logit_lens/resid_post/top_ids"), 0, "top tokens");
        // the last row is the model's own output: no divergence from itself
        for (double k : r.kl()[1][0]) {
            assertTrue(Math.abs(k) < TOL, "KL of the final row " + k);
        }
    }

    @Test
    void badInput() {
        String prompt = ref.get("/inputs/prompt").asText();
        InvalidInputException pos = assertThrows(InvalidInputException.class,
                () -> LogitLens.run(model, prompt, LogitLens.Options.defaults().withPositions(List.of(40))));
        assertTrue(pos.getMessage().contains("out of range"), pos.getMessage());
        assertThrows(InvalidInputException.class, () -> LogitLens.run(model, prompt, LogitLens.Options.defaults().withRows(List.of(7))));
        assertThrows(InvalidInputException.class, () -> LogitLens.run(model, prompt, LogitLens.Options.defaults().withTarget(" John and Mary")));
        assertThrows(InvalidInputException.class, () -> LogitLens.Options.defaults().withInclMid(true));
        assertThrows(InvalidInputException.class, () -> LogitLens.Options.defaults().withTopK(0));
        Fixtures.assertWorkerAnswers();
    }
}
