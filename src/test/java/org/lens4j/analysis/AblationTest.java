package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lens4j.analysis.Fixtures.SUM_TOL;
import static org.lens4j.analysis.Fixtures.TOL;
import static org.lens4j.analysis.Fixtures.assertClose;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.ErrorKind;
import org.lens4j.InvalidInputException;
import org.lens4j.Model;
import org.lens4j.Tensor;
import org.lens4j.analysis.Ablation.Method;
import org.lens4j.analysis.Ablation.Options;

/** Head ablations against seed 004's hook loops (one forward pass per head and method) in the reference process. */
class AblationTest {
    private static Model model;
    private static Fixtures.Reference ref;
    private static List<String> clean;
    private static List<String> corrupted;
    private static List<AnswerPair> answers;

    @BeforeAll
    static void setUp() {
        model = Fixtures.tiny();
        ref = Fixtures.ref();
        clean = ref.inputs("prompts");
        corrupted = ref.inputs("corrupted");
        answers = Fixtures.answers(ref);
    }

    @Test
    void eachMethodAsSeed004() {
        List<long[]> progress = new ArrayList<>();
        Ablation.HeadAblation zero = Ablation.ablateHeads(model, clean, corrupted, answers, Options.defaults().withMethod(Method.ZERO),
                (done, total, message) -> progress.add(new long[] {done, total}));
        assertClose(zero.scores(), ref.get("/ablation/grids/zero"), SUM_TOL, "zero");
        assertClose(zero.cleanMetric(), ref.get("/ablation/clean").asDouble(), TOL, "clean logit diff");
        assertClose(zero.corruptedMetric(), ref.get("/ablation/corrupted").asDouble(), TOL, "corrupted logit diff");
        assertTrue(zero.normalized());
        assertEquals(14, zero.positions()[0]);
        assertFalse(progress.isEmpty(), "progress events");
        assertEquals(progress.get(progress.size() - 1)[1], progress.get(progress.size() - 1)[0], "progress ends at its total");

        Ablation.HeadAblation resample = Ablation.ablateHeads(model, clean, corrupted, answers, Options.defaults().withMethod(Method.RESAMPLE));
        assertClose(resample.scores(), ref.get("/ablation/grids/resample"), SUM_TOL, "resample (patch_head_vector)");
        Ablation.HeadAblation meanDHead = Ablation.ablateHeads(model, clean, corrupted, answers,
                Options.defaults().withMethod(Method.MEAN).withMeanOver(Ablation.MeanOver.D_HEAD));
        assertClose(meanDHead.scores(), ref.get("/ablation/grids/mean_d_head"), SUM_TOL, "the seed's literal mean");
        Ablation.HeadAblation some = Ablation.ablateHeads(model, clean, corrupted, answers,
                Options.defaults().withMethod(Method.MEAN).withHeads(List.of(Head.of(1, 2))).withBatchSize(4));
        assertClose(some.score(Head.of(1, 2)), ref.get("/ablation/grids/mean_batch/1/2").asDouble(), SUM_TOL, "one head");
        assertTrue(Double.isNaN(some.score(Head.of(0, 0))), "heads not asked are NaN");
        Ablation.HeadAblation copy = Fixtures.assertJsonRoundTrip(some);
        assertTrue(Double.isNaN(copy.scores()[0][0]), "NaN survives JSON");
    }

    @Test
    void comparisonWithCategoriesAsSeed004() {
        Map<String, List<Head>> categories = new LinkedHashMap<>();
        ref.get("/inputs/categories").properties().forEach(e -> {
            List<Head> heads = new ArrayList<>();
            e.getValue().forEach(p -> heads.add(Head.of(p.get(0).asInt(), p.get(1).asInt())));
            categories.put(e.getKey(), heads);
        });
        Ablation.Comparison c = Ablation.compare(model, clean, corrupted, answers, Options.defaults().withCategories(categories));
        assertEquals(List.of("resample", "zero", "mean"), c.methods());
        assertClose(c.scores(Method.RESAMPLE), ref.get("/ablation/grids/resample"), SUM_TOL, "resample");
        assertClose(c.scores(Method.ZERO), ref.get("/ablation/grids/zero"), SUM_TOL, "zero");
        assertClose(c.scores(Method.MEAN), ref.get("/ablation/grids/mean_batch"), SUM_TOL, "mean over the batch");
        JsonNode expected = ref.get("/ablation/categories");
        for (String name : categories.keySet()) {
            assertEquals(expected.get(name).get("zero").asInt(), c.categoryDifference().get(name).get("zero"), name + " zero");
            assertEquals(expected.get(name).get("mean").asInt(), c.categoryDifference().get(name).get("mean"), name + " mean");
        }
        Fixtures.assertJsonRoundTrip(c);
    }

    @Test
    void aJavaMetricScoresTheAblatedRunsThroughCallbacks() {
        int mary = model.toSingleToken(" Mary");
        AtomicInteger calls = new AtomicInteger();
        // seed 001's logits_to_ave_logit_diff, written in Java with tensor ops
        Metric.Custom javaDiff = Metrics.custom("logit diff in Java", logits -> {
            calls.incrementAndGet();
            double sum = 0;
            try (Tensor last = logits.select(1, -1)) {
                double[] flat = last.toDoubleArray();
                int vocab = (int) last.size(1);
                for (int b = 0; b < answers.size(); b++) {
                    int c = model.toSingleToken((String) answers.get(b).correct());
                    int i = model.toSingleToken((String) answers.get(b).incorrect());
                    sum += flat[b * vocab + c] - flat[b * vocab + i];
                }
            }
            return sum / answers.size();
        });
        List<Head> heads = List.of(Head.of(0, 1), Head.of(1, 3));
        Ablation.HeadAblation viaJava = Ablation.ablateHeads(model, clean, corrupted, null,
                Options.defaults().withMethod(Method.ZERO).withHeads(heads).withMetric(javaDiff));
        assertTrue(calls.get() >= 4, "the Java metric was called for the clean, corrupted and ablated runs: " + calls.get());
        for (Head h : heads) {
            assertClose(viaJava.score(h), ref.get("/ablation/grids/zero/" + h.layer() + "/" + h.head()).asDouble(), SUM_TOL, "java metric " + h);
        }
        assertTrue(mary > 0);
    }

    @Test
    void badInput() {
        InvalidInputException lengths = assertThrows(InvalidInputException.class,
                () -> Ablation.ablateHeads(model, clean, List.of("When John and Mary went", "a", "b", "c"), answers, Options.defaults()));
        assertEquals(ErrorKind.SHAPE_MISMATCH, lengths.kind());
        InvalidInputException head = assertThrows(InvalidInputException.class, () -> Ablation.ablateHeads(model, clean, corrupted, answers,
                Options.defaults().withHeads(List.of(Head.of(2, 0)))));
        assertTrue(head.getMessage().contains("L2H0"), head.getMessage());
        InvalidInputException pos = assertThrows(InvalidInputException.class, () -> Ablation.ablateHeads(model, clean, corrupted, answers,
                Options.defaults().withPositions(List.of(15))));
        assertTrue(pos.getMessage().contains("out of range"), pos.getMessage());
        assertThrows(InvalidInputException.class, () -> Ablation.ablateHeads(model, clean, corrupted, List.of(AnswerPair.of(" Mary x", " John")),
                Options.defaults()));
        assertThrows(InvalidInputException.class, () -> Ablation.ablateHeads(model, clean, corrupted, null, Options.defaults()));
        assertThrows(InvalidInputException.class, () -> Options.defaults().withMetric(Metrics.logitDiff(answers).perPrompt()));
        assertThrows(InvalidInputException.class, () -> Ablation.compare(model, clean, corrupted, answers, Options.defaults()
                .withMethods(List.of(Method.ZERO)).withCategories(Map.of("x", List.of(Head.of(0, 0))))));
        Fixtures.assertWorkerAnswers();
    }
}
