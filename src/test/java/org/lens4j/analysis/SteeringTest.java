package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lens4j.analysis.Fixtures.SUM_TOL;
import static org.lens4j.analysis.Fixtures.TOL;
import static org.lens4j.analysis.Fixtures.assertClose;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.InvalidInputException;
import org.lens4j.Model;
import org.lens4j.Tensor;
import org.lens4j.analysis.ActivationDataset.Site;

/** Seed 003's activation dataset, mean-difference vector, PCA and activation addition against the seed's code in the reference process. */
class SteeringTest {
    private static Model model;
    private static Fixtures.Reference ref;
    private static List<PromptPair> pairs;

    @BeforeAll
    static void setUp() {
        model = Fixtures.tiny();
        ref = Fixtures.ref();
        pairs = new ArrayList<>();
        ref.get("/inputs/steer_pairs").forEach(p -> pairs.add(PromptPair.of(p.get(0).asText(), p.get(1).asText())));
    }

    @Test
    void datasetVectorAndPcaAsSeed003() {
        ActivationDataset data = ActivationDataset.collect(model, pairs, " :", ActivationDataset.Options.defaults());
        assertEquals(List.of(0, 1), data.layers());
        assertEquals(Site.LN2_NORMALIZED, data.site());
        assertClose(data.a(), ref.get("/steering/a"), TOL, "a activations");
        assertClose(data.b(), ref.get("/steering/b"), TOL, "b activations");
        assertEquals(5, data.positionsA()[0]);

        SteeringVector v = SteeringVector.of(model.lens(), data);
        assertClose(v.vectors(), ref.get("/steering/vector"), TOL, "mean difference");
        assertEquals("blocks.1.ln2.hook_normalized", v.hookName(1));

        Pca2.Result pca = Pca2.fit(model.lens(), data);
        assertEquals(List.of(0, 1), pca.layers());
        for (int l = 0; l < 2; l++) {
            JsonNode e = ref.get("/steering/pca/" + l);
            assertClose(pca.components()[l], e.get("components"), SUM_TOL, "components, layer " + l);
            assertClose(pca.projectionsA()[l], e.get("proj_a"), SUM_TOL, "a projected, layer " + l);
            assertClose(pca.projectionsB()[l], e.get("proj_b"), SUM_TOL, "b projected, layer " + l);
            assertClose(pca.explainedVarianceRatio()[l], e.get("ratio"), SUM_TOL, "explained variance, layer " + l);
            assertClose(pca.mean()[l], e.get("mean"), TOL, "mean, layer " + l);
            assertTrue(pca.accuracyPca()[l] >= 0 && pca.accuracyPca()[l] <= 1);
        }
        Pca2.Result one = Pca2.fit(model.lens(), data, List.of(1));
        assertEquals(List.of(1), one.layers());
        assertClose(one.projectionsA()[0], pca.projectionsA()[1], TOL, "layer 1 alone");

        ActivationDataset copy = Fixtures.assertJsonRoundTrip(data);
        assertEquals(data.layers(), copy.layers());
        Fixtures.assertJsonRoundTrip(v);
        Fixtures.assertJsonRoundTrip(pca);
    }

    @Test
    void activationAdditionDuringARunAndAGeneration() {
        int layer = ref.get("/inputs/steer_layer").asInt();
        double coeff = ref.get("/inputs/steer_coeff").asDouble();
        String prompt = ref.get("/inputs/steer_prompt").asText();
        ActivationDataset data = ActivationDataset.collect(model, pairs, " :", ActivationDataset.Options.defaults().withSite(Site.RESID_PRE));
        SteeringVector v = SteeringVector.of(model.lens(), data);
        assertClose(v.vector(layer), ref.get("/steering/resid_vector"), TOL, "resid_pre vector");
        assertEquals("blocks." + layer + ".hook_resid_pre", v.hookName(layer));
        try (Tensor steered = v.apply(model, prompt, layer, coeff)) {
            float[] all = steered.toFloatArray();
            int vocab = (int) steered.size(2);
            float[] last = java.util.Arrays.copyOfRange(all, all.length - vocab, all.length);
            assertClose(last, ref.get("/steering/steered_last_logits"), SUM_TOL, "steered logits");
            double sum = 0;
            for (float f : all) {
                sum += f;
            }
            assertClose(sum, ref.get("/steering/steered_logits_sum").asDouble(), 1e-2, "sum of all steered logits");
        }
        String plain = v.generate(model, prompt, layer, 0.0, 4);
        assertTrue(plain.startsWith(prompt), plain);
        String steered = v.generate(model, prompt, layer, coeff * 10, 4);
        assertTrue(steered.startsWith(prompt), steered);
    }

    @Test
    void badInput() {
        InvalidInputException missing = assertThrows(InvalidInputException.class, () -> ActivationDataset.collect(model,
                List.of(PromptPair.of("no marker here", "Love : love")), " :", ActivationDataset.Options.defaults()));
        assertTrue(missing.getMessage().contains("demarcation"), missing.getMessage());
        assertThrows(InvalidInputException.class, () -> ActivationDataset.collect(model, pairs, " :",
                ActivationDataset.Options.defaults().withLayers(List.of(5))));
        assertThrows(InvalidInputException.class, () -> ActivationDataset.collect(model, List.of(), " :", ActivationDataset.Options.defaults()));
        assertThrows(InvalidInputException.class, () -> PromptPair.of("", "x"));
        ActivationDataset data = ActivationDataset.collect(model, pairs.subList(0, 2), " :",
                ActivationDataset.Options.defaults().withLayers(List.of(1)));
        assertThrows(InvalidInputException.class, () -> Pca2.fit(model.lens(), data, List.of(0)));
        assertThrows(InvalidInputException.class, () -> SteeringVector.of(model.lens(), data).vector(0));
        Fixtures.assertWorkerAnswers();
    }
}
