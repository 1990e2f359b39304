package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.Model;
import org.lens4j.TestLens;

/**
 * The fast path's flags and fallback reasons reach Java: a rotary GQA model (LLaMA) takes every
 * fast path; OPT, whose MLP has no module of its own in TransformerLens' bridge, runs the
 * suffix method but says why head outputs go through hooks, on the progress listener too.
 * (The values' parity with TransformerLens on nine architectures is python/tests/test_architectures.py.)
 */
class ArchitecturesPatchingTest {
    static final String CLEAN = "When John and Mary went, John gave it to";
    static final String CORRUPTED = "When John and Mary went, Mary gave it to";
    private static Path models;

    @BeforeAll
    static void build() throws Exception {
        models = TestLens.reference("reference_archs.py", List.of("$OUT", "llama", "opt"));
    }

    @Test
    void llamaTakesEveryFastPath() {
        Model model = TestLens.lens().load(models.resolve("llama"));
        try {
            Metric metric = Metrics.logitDiff(" Mary", " John");
            Patching.Result heads = Patching.sweep(model, CLEAN, CORRUPTED, metric, Patching.Kind.ATTN_HEAD_OUT_ALL_POS);
            FastPath how = heads.fastPath();
            assertTrue(how.fast() && how.headEntry() && how.lastBlockTail(), how.toString());
            assertNull(how.fallbackReason());
            assertNull(how.fallbackLine("patching"));
            assertEquals("suffix", heads.method());
            PathPatching.Result path = PathPatching.run(model, CLEAN, CORRUPTED, metric, PathPatching.Receivers.finalResidual());
            assertTrue(path.fastPath().fast() && path.fastPath().frozenShortcut(), path.fastPath().toString());
        } finally {
            model.close();
        }
    }

    @Test
    void optSaysWhyHeadOutputsGoThroughHooks() {
        Model model = TestLens.lens().load(models.resolve("opt"));
        try {
            Metric metric = Metrics.logitDiff(" Mary", " John");
            List<String> messages = new ArrayList<>();
            Patching.Result heads = Patching.sweep(model, CLEAN, CORRUPTED, metric, Patching.Kind.ATTN_HEAD_OUT_ALL_POS,
                    (done, total, message) -> messages.add(message));
            FastPath how = heads.fastPath();
            assertTrue(how.fast() && !how.headEntry(), how.toString());
            assertTrue(how.shortcutReason().contains("containerless"), how.shortcutReason());
            assertTrue(messages.stream().anyMatch(m -> m.contains("head-output entry") && m.contains("containerless")), messages.toString());
            assertTrue(how.fallbackLine("patching").contains("without its head-output shortcut"));
            PathPatching.Result path = PathPatching.run(model, CLEAN, CORRUPTED, metric, PathPatching.Receivers.finalResidual());
            assertFalse(path.fastPath().frozenShortcut());
            assertTrue(path.fastPath().shortcutReason().contains("containerless"), path.fastPath().toString());
        } finally {
            model.close();
        }
    }
}
