package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lens4j.analysis.Fixtures.TOL;
import static org.lens4j.analysis.Fixtures.assertClose;

import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.ErrorKind;
import org.lens4j.InvalidInputException;
import org.lens4j.Model;
import org.lens4j.Tensor;
import org.lens4j.analysis.HeadDetector.Options;
import org.lens4j.analysis.HeadDetector.Pattern;

/** Head scores against transformer_lens.head_detector.detect_head and the seeds' hook code, in the reference process. */
class HeadDetectorTest {
    private static Model model;
    private static Fixtures.Reference ref;
    private static List<String> texts;

    @BeforeAll
    static void setUp() {
        model = Fixtures.tiny();
        ref = Fixtures.ref();
        texts = ref.inputs("detect_texts");
    }

    @Test
    void detectHeadAsTransformerLens() {
        HeadDetector.Scores prev = HeadDetector.detect(model, texts, Pattern.PREVIOUS_TOKEN_HEAD);
        assertClose(prev.scores(), ref.get("/heads/previous"), TOL, "previous-token, two texts averaged");
        assertEquals(2, prev.nSequences());
        assertClose(HeadDetector.detect(model, texts, Pattern.DUPLICATE_TOKEN_HEAD).scores(), ref.get("/heads/duplicate"), TOL, "duplicate");
        String text = texts.get(1);
        HeadDetector.Scores induction = HeadDetector.detect(model, text, Pattern.INDUCTION_HEAD);
        assertClose(induction.scores(), ref.get("/heads/induction"), TOL, "induction");
        assertClose(HeadDetector.detect(model, text, Pattern.PREVIOUS_TOKEN_HEAD, Options.defaults().withExcludeBos(true)
                .withExcludeCurrentToken(true)).scores(), ref.get("/heads/previous_excl"), TOL, "excluding BOS and current");
        assertClose(HeadDetector.detect(model, text, Pattern.DUPLICATE_TOKEN_HEAD, Options.defaults()
                .withErrorMeasure(HeadDetector.ErrorMeasure.ABS)).scores(), ref.get("/heads/duplicate_abs"), TOL, "abs");
        HeadDetector.Scores some = HeadDetector.detect(model, text, Pattern.PREVIOUS_TOKEN_HEAD,
                Options.defaults().withHeads(List.of(Head.of(0, 1), Head.parse("L1H3"))));
        assertClose(some.scores(), ref.get("/heads/previous_heads"), TOL, "chosen heads");
        assertEquals(-1.0, some.score(Head.of(0, 0)));
        int n = ref.get("/heads/custom_n").asInt();
        double[][] bos = new double[n][n];
        for (double[] row : bos) {
            row[0] = 1;
        }
        HeadDetector.Scores custom = HeadDetector.detect(model, text, bos, Options.defaults());
        assertEquals("custom", custom.pattern());
        assertClose(custom.scores(), ref.get("/heads/custom"), TOL, "custom pattern");
        assertEquals(3, induction.top(3).size());
        Fixtures.assertJsonRoundTrip(induction);
    }

    @Test
    void repeatedRandomTokensAndSeed001Scores() {
        int seqLen = ref.get("/inputs/seq_len").asInt();
        int batch = ref.get("/inputs/random_batch").asInt();
        int seed = ref.get("/inputs/random_seed").asInt();
        try (Tensor plain = HeadDetector.repeatedRandomTokens(model, seqLen, batch, seed, 100, 20000, false);
             Tensor withBos = HeadDetector.repeatedRandomTokens(model, seqLen, batch, seed)) {
            assertClose(plain.toLongArray(), ref.get("/heads/repeated_tokens"), 0, "seed 001's torch.manual_seed(0); randint(...)");
            long[] b = withBos.toLongArray();
            long[] p = plain.toLongArray();
            assertEquals(batch * (2 * seqLen + 1), b.length);
            for (int r = 0; r < batch; r++) {
                assertEquals(model.toTokens("").toLongArray()[0], b[r * (2 * seqLen + 1)], "BOS first");
                for (int i = 0; i < 2 * seqLen; i++) {
                    assertEquals(p[r * 2 * seqLen + i], b[r * (2 * seqLen + 1) + 1 + i]);
                }
            }
            HeadDetector.RepeatedTokenScores s = HeadDetector.repeatedTokenScores(model, plain, seqLen);
            assertClose(s.previousToken(), ref.get("/heads/repeated_scores/previous"), TOL, "previous token");
            assertClose(s.duplicateToken(), ref.get("/heads/repeated_scores/duplicate"), TOL, "duplicate token");
            assertClose(s.induction(), ref.get("/heads/repeated_scores/induction"), TOL, "induction");
            Fixtures.assertJsonRoundTrip(s);
        }
    }

    @Test
    void seed000InductionScoresPerQuestion() {
        List<String> questions = ref.inputs("questions");
        HeadDetector.InductionScores s = HeadDetector.inductionScores(model, questions);
        assertClose(s.scores(), ref.get("/heads/question_scores/scores"), TOL, "per question");
        assertEquals(ref.get("/heads/question_scores/length").asInt(), s.length());
        for (int q = 0; q < questions.size(); q++) {
            int flat = ref.get("/heads/question_scores/argmax").get(q).asInt();
            assertEquals(Head.of(flat / model.cfg().nHeads(), flat % model.cfg().nHeads()), s.bestHeads().get(q));
        }
        Fixtures.assertJsonRoundTrip(s);
    }

    @Test
    void badInput() {
        InvalidInputException unknown = assertThrows(InvalidInputException.class, () -> HeadDetector.detect(model, texts.get(0),
                Pattern.INDUCTION_HEAD, Options.defaults().withHeads(List.of(Head.of(5, 0)))));
        assertTrue(unknown.getMessage().contains("L5H0"), unknown.getMessage());
        InvalidInputException size = assertThrows(InvalidInputException.class,
                () -> HeadDetector.detect(model, texts.get(0), new double[][] {{1, 0}, {1, 1}}, Options.defaults()));
        assertEquals(ErrorKind.SHAPE_MISMATCH, size.kind());
        assertThrows(InvalidInputException.class, () -> HeadDetector.detect(model, texts.get(0), new double[][] {{1, 1}, {1, 1}}, Options.defaults()));
        assertThrows(InvalidInputException.class, () -> HeadDetector.repeatedRandomTokens(model, 100, 1, 0));
        assertThrows(InvalidInputException.class, () -> Head.parse("layer 3 head 1"));
        assertThrows(InvalidInputException.class, () -> HeadDetector.inductionScores(model, List.of()));
        Fixtures.assertWorkerAnswers();
    }
}
