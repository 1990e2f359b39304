package org.lens4j.analysis;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lens4j.analysis.Fixtures.TOL;
import static org.lens4j.analysis.Fixtures.assertClose;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.CallbackFailedException;
import org.lens4j.Input;
import org.lens4j.InvalidInputException;
import org.lens4j.Model;
import org.lens4j.Slice;
import org.lens4j.Tensor;
import org.lens4j.ErrorKind;

/** Metrics on logits, against seed 001's logits_to_ave_logit_diff and plain torch in the reference process. */
class MetricsTest {
    private static Model model;
    private static Fixtures.Reference ref;
    private static List<String> prompts;
    private static List<AnswerPair> answers;
    private static Tensor logits;
    private static Tensor corruptedLogits;

    @BeforeAll
    static void setUp() {
        model = Fixtures.tiny();
        ref = Fixtures.ref();
        prompts = ref.inputs("prompts");
        answers = Fixtures.answers(ref);
        logits = model.logits(prompts);
        corruptedLogits = model.logits(ref.inputs("corrupted"));
    }

    @AfterAll
    static void tearDown() {
        logits.close();
        corruptedLogits.close();
    }

    @Test
    void logitDifferenceMeanAndPerPromptAsSeed001() {
        assertClose(Metrics.logitDiff(model, logits, answers), ref.get("/metrics/logit_diff_mean").asDouble(), TOL, "mean");
        assertClose(Metrics.logitDiffPerPrompt(model, logits, answers), ref.get("/metrics/logit_diff_per_prompt"), TOL, "per prompt");
        // by token id, one pair for all prompts
        int mary = model.toSingleToken(" Mary");
        int john = model.toSingleToken(" John");
        double[] each = Metrics.logitDiffPerPrompt(model, logits, List.of(AnswerPair.of(mary, john)));
        assertClose(each[0], ref.get("/metrics/logit_diff_per_prompt/0").asDouble(), TOL, "by id");
        assertClose(Metrics.logitDiff(model, logits.select(0, 0).reshape(1, logits.size(1), logits.size(2)), " Mary", " John"),
                each[0], TOL, "by text");
    }

    @Test
    void logitDifferenceAtChosenPositions() {
        double both = Metrics.logitDiff(answers).at(Slice.indices(5, -1)).evaluate(model, logits);
        assertClose(both, ref.get("/metrics/logit_diff_pos5_last").asDouble(), TOL, "positions 5 and -1");
        double[] perPrompt = Metrics.logitDiff(answers).at(Positions.perPrompt(14, 13, 12, 11)).perPrompt().evaluateEach(model, logits);
        assertClose(perPrompt, ref.get("/metrics/logit_diff_per_prompt_position"), TOL, "a position per prompt");
    }

    @Test
    void aSliceRangeReadsThePositionsItSelects() {
        double lastThree = Metrics.logitDiff(answers).at(Slice.from(-3)).evaluate(model, logits);
        double oneByOne = 0;
        for (int p = -3; p < 0; p++) {
            oneByOne += Metrics.logitDiff(answers).at(Slice.at(p)).evaluate(model, logits) / 3;
        }
        assertClose(lastThree, oneByOne, TOL, "Slice.from(-3) against -3, -2, -1 one by one");
        int seq = (int) logits.size(1);
        assertClose(Metrics.logitDiff(answers).at(Slice.range(0, seq)).evaluate(model, logits),
                Metrics.logitDiff(answers).at(Slice.all()).evaluate(model, logits), TOL, "0:seq against all");
    }

    @Test
    void normalizedLossKlProbabilityLogitAndRank() {
        double[] ends = Fixtures.doubles(ref.get("/inputs/normalized_ends"));
        assertClose(Metrics.normalized(Metrics.logitDiff(answers), ends[0], ends[1]).evaluate(model, logits),
                ref.get("/metrics/normalized").asDouble(), TOL, "normalized");
        assertClose(Metrics.normalize(ref.get("/metrics/logit_diff_mean").asDouble(), ends[0], ends[1]),
                ref.get("/metrics/normalized").asDouble(), TOL, "normalize");
        assertClose(Metrics.loss(model, logits, prompts), ref.get("/metrics/loss").asDouble(), TOL, "loss");
        assertClose(Metrics.kl(model, logits, corruptedLogits), ref.get("/metrics/kl_to_corrupted").asDouble(), TOL, "kl");
        assertClose(Metrics.probability(model, logits, " Mary"), ref.get("/metrics/prob_mary").asDouble(), TOL, "probability");
        assertClose(Metrics.logit(" Mary").evaluate(model, logits), ref.get("/metrics/logit_mary").asDouble(), TOL, "logit");
        int[] ranks = Metrics.rank(model, logits, " Mary");
        assertArrayEquals(Fixtures.strings(ref.get("/metrics/rank_mary")).stream().mapToInt(Integer::parseInt).toArray(), ranks);
    }

    @Test
    void theInputFormsAgree() {
        double expected = ref.get("/metrics/loss").asDouble();
        assertClose(Metrics.loss(model, logits, Input.of(prompts)), expected, TOL, "loss on Input.of(prompts)");
        try (Tensor tokens = model.toTokens(prompts)) {
            assertClose(Metrics.loss(model, logits, tokens), expected, TOL, "loss on the prompts' tokens");
            assertClose(Metrics.loss().evaluate(model, logits, Input.of(tokens)), expected, TOL, "loss on Input.of(tokens)");
        }
        try (Tensor first = logits.select(0, 0).reshape(1, logits.size(1), logits.size(2))) {
            assertClose(Metrics.loss(model, first, prompts.get(0)), Metrics.loss(model, first, List.of(prompts.get(0))), TOL,
                    "one prompt as String and as List");
        }
        NullPointerException none = assertThrows(NullPointerException.class, () -> Metrics.loss(model, logits, (String) null));
        assertEquals("input", none.getMessage());
        NullPointerException noClean = assertThrows(NullPointerException.class,
                () -> Patching.sweep(model, (List<String>) null, prompts, Metrics.loss(), Patching.Kind.RESID_PRE));
        assertEquals("clean", noClean.getMessage());
    }

    @Test
    void aJavaMetricRunsThroughTheCallbackAndIsUnregisteredAfter() {
        AtomicInteger calls = new AtomicInteger();
        Metric.Custom top = Metrics.custom("max last logit of prompt 0", l -> {
            calls.incrementAndGet();
            try (Tensor row = l.select(0, 0); Tensor last = row.select(0, -1); Tensor max = last.max(0)) {
                return max.item();
            }
        });
        assertClose(top.evaluate(model, logits), ref.get("/metrics/max_last_logit_prompt0").asDouble(), TOL, "java metric");
        assertEquals(1, calls.get());
        Metric.Custom each = Metrics.customPerPrompt("per prompt", l -> new double[] {1, 2, 3, 4});
        assertArrayEquals(new double[] {1, 2, 3, 4}, each.evaluateEach(model, logits), 0);
        // normalized around a Java metric: the spec nests, the callback still runs
        double normalized = Metrics.normalized(top, 2.0, 1.0).evaluate(model, logits);
        assertClose(normalized, ref.get("/metrics/max_last_logit_prompt0").asDouble() - 1.0, TOL, "normalized java metric");

        long id;
        try (Metric.Binding b = top.bind(model.lens())) {
            id = ((Number) b.spec().get("id")).longValue();
            assertEquals("java", b.spec().get("type"));
        }
        CallbackFailedException gone = assertThrows(CallbackFailedException.class,
                () -> LensAccess.ops(model.lens()).call("bridge.callback", Map.of("name", "metric", "args", Map.of("id", id))));
        assertTrue(gone.getMessage().contains("no Java callback"), gone.getMessage());
        Fixtures.assertWorkerAnswers();
    }

    @Test
    void aFailingJavaMetricReachesTheCaller() {
        Metric.Custom broken = Metrics.custom("broken", l -> {
            throw new IllegalStateException("metric says no");
        });
        CallbackFailedException e = assertThrows(CallbackFailedException.class, () -> broken.evaluate(model, logits));
        assertTrue(e.getMessage().contains("metric says no") || (e.getCause() != null && e.getCause().getMessage().contains("metric says no")),
                e.getMessage());
        Fixtures.assertWorkerAnswers();
    }

    @Test
    void badInputIsAClearErrorAndTheWorkerGoesOn() {
        InvalidInputException notOne = assertThrows(InvalidInputException.class,
                () -> Metrics.logitDiff(model, logits, " John and Mary", " John"));
        assertEquals(ErrorKind.NOT_SINGLE_TOKEN, notOne.kind());
        assertTrue(notOne.getMessage().contains("John and Mary"), notOne.getMessage());

        InvalidInputException outOfRange = assertThrows(InvalidInputException.class,
                () -> Metrics.logitDiff(answers).at(Slice.at(99)).evaluate(model, logits));
        assertTrue(outOfRange.getMessage().contains("out of range"), outOfRange.getMessage());

        InvalidInputException pairs = assertThrows(InvalidInputException.class,
                () -> Metrics.logitDiff(model, logits, answers.subList(0, 3)));
        assertEquals(ErrorKind.SHAPE_MISMATCH, pairs.kind());
        assertTrue(pairs.getMessage().contains("3"), pairs.getMessage());

        assertThrows(InvalidInputException.class, () -> Metrics.logitDiff(List.of()));
        assertThrows(InvalidInputException.class, () -> AnswerPair.of("", " John"));
        assertThrows(InvalidInputException.class, () -> AnswerPair.list(" Mary"));
        assertThrows(InvalidInputException.class, () -> Metrics.normalized(Metrics.loss(), 1.0, 1.0));
        InvalidInputException perPrompt = assertThrows(InvalidInputException.class,
                () -> Metrics.logitDiff(answers).perPrompt().evaluate(model, logits));
        assertTrue(perPrompt.getMessage().contains("evaluateEach"), perPrompt.getMessage());
        Fixtures.assertWorkerAnswers();
    }
}
