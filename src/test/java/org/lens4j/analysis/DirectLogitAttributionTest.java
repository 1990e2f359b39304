package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.lens4j.analysis.Fixtures.SUM_TOL;
import static org.lens4j.analysis.Fixtures.TOL;
import static org.lens4j.analysis.Fixtures.assertClose;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.InvalidInputException;
import org.lens4j.Model;
import org.lens4j.Run;
import org.lens4j.Slice;
import org.lens4j.Tensor;
import org.lens4j.analysis.DirectLogitAttribution.AccumulatedResidOptions;
import org.lens4j.analysis.DirectLogitAttribution.ApplyLnToStackOptions;
import org.lens4j.analysis.DirectLogitAttribution.By;
import org.lens4j.analysis.DirectLogitAttribution.DecomposeResidOptions;
import org.lens4j.analysis.DirectLogitAttribution.FullResidDecompositionOptions;
import org.lens4j.analysis.DirectLogitAttribution.LabelledStack;
import org.lens4j.analysis.DirectLogitAttribution.LogitAttrsOptions;
import org.lens4j.analysis.DirectLogitAttribution.StackHeadResultsOptions;

/** The cache methods and seed 001's logit-difference attribution against TransformerLens' ActivationCache in the reference process. */
class DirectLogitAttributionTest {
    private static Model model;
    private static Fixtures.Reference ref;
    private static Run run;
    private static List<AnswerPair> answers;

    @BeforeAll
    static void setUp() {
        model = Fixtures.tiny();
        ref = Fixtures.ref();
        run = model.runWithCache(ref.inputs("prompts"));
        answers = Fixtures.answers(ref);
    }

    @AfterAll
    static void tearDown() {
        run.close();
    }

    @Test
    void logitDifferenceByLayerHeadComponentAndAccumulated() {
        DirectLogitAttribution.Attribution layer = DirectLogitAttribution.logitDiff(model, run.cache(), answers, By.LAYER);
        assertEquals(Fixtures.strings(ref.get("/dla/layer/labels")), layer.labels());
        assertClose(layer.values(), ref.get("/dla/layer/values"), TOL, "per layer");
        assertClose(layer.perPrompt(), ref.get("/dla/layer/per_prompt"), TOL, "per layer, per prompt");
        assertClose(layer.logitDiff(), ref.get("/dla/average_logit_diff").asDouble(), TOL, "calculated average logit diff");
        assertClose(layer.logitDiff(), ref.get("/dla/original_average_logit_diff").asDouble(), SUM_TOL, "equals the logits' logit diff");

        DirectLogitAttribution.Attribution head = DirectLogitAttribution.logitDiff(model, run.cache(), answers, By.HEAD);
        assertEquals(Fixtures.strings(ref.get("/dla/head/labels")), head.labels());
        assertClose(head.headGrid(), ref.get("/dla/head/grid"), TOL, "per head");
        assertClose(head.value("L1H2"), ref.get("/dla/head/grid/1/2").asDouble(), TOL, "L1H2");

        DirectLogitAttribution.Attribution comp = DirectLogitAttribution.logitDiff(model, run.cache(), answers, By.COMPONENT);
        assertEquals(Fixtures.strings(ref.get("/dla/component/labels")), comp.labels());
        assertClose(comp.values(), ref.get("/dla/component/values"), TOL, "per component");
        double sum = 0;
        for (double v : comp.values()) {
            sum += v;
        }
        assertClose(sum, comp.logitDiff(), SUM_TOL, "components add up to the logit difference");

        DirectLogitAttribution.Attribution acc = DirectLogitAttribution.logitDiff(model, run.cache(), answers, By.ACCUMULATED);
        assertEquals(Fixtures.strings(ref.get("/dla/accumulated/labels")), acc.labels());
        assertClose(acc.values(), ref.get("/dla/accumulated/values"), TOL, "logit lens line");

        assertArrayEquals(new int[] {model.toSingleToken(" Mary"), model.toSingleToken(" John")}, head.answerTokenIds()[0]);
        Fixtures.assertJsonRoundTrip(head);
        Fixtures.assertJsonRoundTrip(layer);
        assertThrows(IllegalStateException.class, layer::headGrid);
    }

    private static void assertStack(LabelledStack s, String name) throws IOException {
        JsonNode meta = ref.get("/dla/stacks/" + name);
        long[] shape = s.stack().shape();
        long[] expected = new long[meta.get("shape").size()];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = meta.get("shape").get(i).asLong();
        }
        assertArrayEquals(expected, shape, name + " shape");
        if (meta.hasNonNull("labels")) {
            assertEquals(Fixtures.strings(meta.get("labels")), s.labels(), name + " labels");
        }
        assertClose(s.stack().toFloatArray(), ref.f32(name), TOL, name);
    }

    @Test
    void cacheMethodsWithTheirLabels() throws IOException {
        var cache = run.cache();
        try (LabelledStack acc = DirectLogitAttribution.accumulatedResid(cache,
                AccumulatedResidOptions.defaults().withLayer(-1).withInclMid(true).withApplyLn(true).withPosSlice(Slice.at(-1)));
             LabelledStack dec = DirectLogitAttribution.decomposeResid(cache,
                     DecomposeResidOptions.defaults().withLayer(1).withMode(DirectLogitAttribution.Mode.ATTN).withPosSlice(Slice.indices(3, 5)));
             LabelledStack heads = DirectLogitAttribution.stackHeadResults(cache,
                     StackHeadResultsOptions.defaults().withLayer(-1).withInclRemainder(true).withPosSlice(Slice.at(-1)).withApplyLn(true));
             LabelledStack full = DirectLogitAttribution.getFullResidDecomposition(cache,
                     FullResidDecompositionOptions.defaults().withLayer(-1).withExpandNeurons(true).withPosSlice(Slice.at(-1)));
             LabelledStack perLayer = DirectLogitAttribution.decomposeResid(cache, DecomposeResidOptions.defaults().withLayer(-1).withPosSlice(Slice.at(-1)));
             Tensor scaled = DirectLogitAttribution.applyLnToStack(cache, perLayer.stack(), ApplyLnToStackOptions.defaults().withLayer(-1).withPosSlice(Slice.at(-1)));
             Tensor attrs = DirectLogitAttribution.logitAttrs(cache, perLayer.stack(),
                     answers.stream().map(AnswerPair::correct).toList(), answers.stream().map(AnswerPair::incorrect).toList(),
                     LogitAttrsOptions.defaults().withPosSlice(Slice.at(-1)))) {
            assertStack(acc, "accumulated_resid");
            assertStack(dec, "decompose_resid");
            assertStack(heads, "stack_head_results");
            assertStack(full, "full_resid_decomposition");
            assertStack(new LabelledStack(scaled, List.of()), "apply_ln_to_stack");
            assertStack(new LabelledStack(attrs, List.of()), "logit_attrs");
        }
    }

    @Test
    void badInput() {
        assertThrows(InvalidInputException.class, () -> DirectLogitAttribution.logitDiff(model, run.cache(), answers, By.HEAD, 30));
        assertThrows(InvalidInputException.class,
                () -> DirectLogitAttribution.logitDiff(model, run.cache(), List.of(AnswerPair.of(" Mary went", " John")), By.LAYER));
        assertThrows(InvalidInputException.class, () -> DirectLogitAttribution.logitDiff(model, run.cache(), answers.subList(0, 3), By.LAYER));
        assertThrows(InvalidInputException.class,
                () -> DirectLogitAttribution.accumulatedResid(run.cache(), AccumulatedResidOptions.defaults().withLayer(9)));
        assertThrows(InvalidInputException.class,
                () -> DirectLogitAttribution.decomposeResid(run.cache(), DecomposeResidOptions.defaults().withPosSlice(Slice.indices(99))));
        Fixtures.assertWorkerAnswers();
    }
}
