package org.lens4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.lens4j.engine.Json;

/** ActName agrees with TransformerLens' get_act_name on every short name, alias and layer type. */
class ActNameTest {
    @Test
    void matchesGetActNameNameForName() throws Exception {
        Path out = TestLens.reference(List.of("--act-names", "$OUT"));
        JsonNode cases = Json.MAPPER.readTree(Files.readString(out.resolve("act_names.json")));
        int checked = 0;
        for (JsonNode c : cases) {
            String expected = c.get("full").asText();
            if (expected.startsWith("!")) {
                continue; // Python raised: nothing to match
            }
            Integer layer = c.get("layer").isNull() ? null : c.get("layer").asInt();
            String layerType = c.get("layer_type").isNull() ? null : c.get("layer_type").asText();
            assertEquals(expected, ActName.of(c.get("name").asText(), layer, layerType), c.toString());
            checked++;
        }
        assertTrue(checked > 1000, "only " + checked + " cases checked");
    }

    @Test
    void examplesFromTheDocs() {
        assertEquals("blocks.3.hook_resid_pre", ActName.of("resid_pre", 3));
        assertEquals("blocks.0.attn.hook_pattern", ActName.of("attn", 0));
        assertEquals("blocks.2.ln1.hook_scale", ActName.of("scale", 2, "ln1"));
        assertEquals("blocks.6.attn.hook_k", ActName.of("k6"));
        assertEquals("ln_final.hook_normalized", ActName.of("normalized"));
    }
}
