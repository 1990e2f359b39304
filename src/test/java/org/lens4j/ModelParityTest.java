package org.lens4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.engine.Json;

/** Tokens, logits and cache entries from Java equal TransformerLens' own, computed in a separate Python process. */
class ModelParityTest {
    private static final List<String> BATCH = List.of(TestLens.PROMPT, "The cat sat on the mat.");
    private static Path ref;
    private static JsonNode tokens;
    private static JsonNode index;

    @BeforeAll
    static void reference() throws Exception {
        Model model = TestLens.tiny();
        ref = TestLens.reference(List.of(TestLens.tinyModelDir().toString(), "$OUT", BATCH.get(0), BATCH.get(1)));
        tokens = Json.MAPPER.readTree(Files.readString(ref.resolve("tokens.json")));
        index = Json.MAPPER.readTree(Files.readString(ref.resolve("index.json")));
        assertEquals(2, model.cfg().nLayers());
    }

    @Test
    void configIsTheModels() {
        ModelConfig cfg = TestLens.tiny().cfg();
        assertEquals(4, cfg.nHeads());
        assertEquals(64, cfg.dModel());
        assertEquals(16, cfg.dHead());
        assertEquals(256, cfg.dMlp());
        assertEquals("LN", cfg.normalizationType());
        assertEquals("cpu", cfg.device());
        assertEquals("float32", cfg.dtype());
    }

    @Test
    void tokenizationMatchesTransformerLens() {
        Model model = TestLens.tiny();
        List<String> expectedStr = Json.MAPPER.convertValue(tokens.get("str"), List.class);
        assertEquals(expectedStr, model.toStrTokens(TestLens.PROMPT));
        long[] expectedIds = Json.MAPPER.convertValue(tokens.get("ids"), long[].class);
        try (Tensor t = model.toTokens(TestLens.PROMPT)) {
            assertArrayEquals(new long[] {1, expectedIds.length}, t.shape());
            assertArrayEquals(expectedIds, t.toLongArray());
            assertEquals(tokens.get("string").asText(), model.toString(t.select(0, 0)));
            assertEquals(expectedStr, model.toStrTokens(t));
        }
        long[][] batch = Json.MAPPER.convertValue(tokens.get("batch_ids"), long[][].class);
        try (Tensor t = model.toTokens(BATCH)) {
            assertArrayEquals(new long[] {2, batch[0].length}, t.shape());
            assertArrayEquals(batch[1], t.select(0, 1).toLongArray());
        }
        assertEquals(tokens.get("mary").asInt(), model.toSingleToken(" Mary"));
        assertEquals(2, model.getTokenPosition(" John", TestLens.PROMPT));
    }

    @Test
    void logitsAndCacheMatchTransformerLens() throws Exception {
        Model model = TestLens.tiny();
        try (Scope scope = model.lens().scope()) {
            Run run = model.runWithCache(TestLens.PROMPT);
            assertTrue(TestLens.maxAbsDiff(TestLens.readF32(ref.resolve("logits.f32")), run.logits().toFloatArray()) <= 1e-5);
            for (String name : List.of("blocks.0.attn.hook_pattern", "blocks.1.hook_resid_pre", "blocks.0.hook_mlp_out",
                    "ln_final.hook_normalized")) {
                Tensor entry = run.cache().get(name);
                assertArrayEquals(Json.MAPPER.convertValue(index.get(name), long[].class), entry.shape(), name);
                float diff = TestLens.maxAbsDiff(TestLens.readF32(ref.resolve(name + ".f32")), entry.toFloatArray());
                assertTrue(diff <= 1e-5, name + " differs by " + diff);
            }
            // short names and negative layers follow TransformerLens' rules
            float[] byShortName = run.cache().get("pattern", -2).toFloatArray();
            assertTrue(TestLens.maxAbsDiff(TestLens.readF32(ref.resolve("blocks.0.attn.hook_pattern.f32")), byShortName) <= 1e-6);
            assertTrue(scope.size() >= 6);
        }
    }

    @Test
    void namesFiltersSelectWhatTheySay() {
        Model model = TestLens.tiny();
        try (Run run = model.runWithCache(TestLens.PROMPT, Names.only("pattern", "resid_pre"))) {
            assertEquals(List.of("blocks.0.hook_resid_pre", "blocks.0.attn.hook_pattern", "blocks.1.hook_resid_pre",
                    "blocks.1.attn.hook_pattern"), run.cache().keys());
        }
        try (Run run = model.runWithCache(TestLens.PROMPT, Names.glob("blocks.*.attn.hook_[qk]"))) {
            // TransformerBridge also files each tensor under its alias (attn.q.hook_out for attn.hook_q)
            assertTrue(run.cache().keys().containsAll(List.of("blocks.0.attn.hook_q", "blocks.0.attn.hook_k",
                    "blocks.1.attn.hook_q", "blocks.1.attn.hook_k")), run.cache().keys().toString());
            assertTrue(run.cache().keys().stream().noneMatch(k -> k.contains("hook_v") || k.contains("pattern")));
        }
        try (Run run = model.runWithCache(TestLens.PROMPT, Names.matching(n -> n.endsWith("hook_z")),
                RunOptions.defaults().withStopAtLayer(1).withRemoveBatchDim(true))) {
            // hook_z and its bridge alias attn.o.hook_in; nothing from layer 1, which did not run
            assertTrue(run.cache().keys().contains("blocks.0.attn.hook_z"), run.cache().keys().toString());
            assertTrue(run.cache().keys().stream().allMatch(k -> k.startsWith("blocks.0.")), run.cache().keys().toString());
            assertArrayEquals(new long[] {15, 4, 16}, run.cache().get("z", 0).shape());
            assertEquals(64, run.logits().size(-1), "stop_at_layer returns the residual stream");
        }
    }

    @Test
    void weightsHaveTransformerLensShapes() {
        Model model = TestLens.tiny();
        try (Tensor wu = model.weight("W_U"); Tensor wq = model.weight("W_Q"); Tensor wq1 = model.weight("W_Q", 1)) {
            assertArrayEquals(new long[] {64, model.cfg().dVocab()}, wu.shape());
            assertArrayEquals(new long[] {2, 4, 64, 16}, wq.shape());
            assertArrayEquals(new long[] {4, 64, 16}, wq1.shape());
        }
        try (Tensor dirs = model.tokensToResidualDirections(" Mary", " John")) {
            assertArrayEquals(new long[] {2, 64}, dirs.shape());
        }
    }

    @Test
    void lossIsAFiniteNumber() {
        double loss = TestLens.tiny().loss(TestLens.PROMPT);
        assertTrue(loss > 0 && Double.isFinite(loss), "loss " + loss);
    }
}
