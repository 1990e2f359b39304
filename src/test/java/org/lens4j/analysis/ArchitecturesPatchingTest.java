package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.LensException;
import org.lens4j.Model;
import org.lens4j.Run;
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
        models = TestLens.reference("reference_archs.py", List.of("$OUT", "llama", "opt", "phi", "gemma2"));
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

    /** Phi (parallel blocks, no ln2): DLA's accumulated stack leaves out resid_mid, the logit lens names the sources there are. */
    @Test
    void analysesFollowTheArchitecture() {
        Model phi = TestLens.lens().load(models.resolve("phi"));
        try (Run run = phi.runWithCache(List.of(CORRUPTED))) {
            List<AnswerPair> answers = List.of(AnswerPair.of(" Mary", " John"));
            DirectLogitAttribution.Attribution acc = DirectLogitAttribution.logitDiff(phi, run.cache(), answers, DirectLogitAttribution.By.ACCUMULATED);
            assertTrue(acc.labels().stream().noneMatch(l -> l.contains("mid")), acc.labels().toString());
            assertEquals(phi.cfg().nLayers() + 1, acc.labels().size(), acc.labels().toString()); // 0_pre, 1_pre, final_post
            LensException mid = assertThrows(LensException.class, () -> DirectLogitAttribution.logitDiff(phi, run.cache(), answers,
                    DirectLogitAttribution.By.ACCUMULATED, -1, true));
            assertTrue(mid.getMessage().contains("parallel"), mid.getMessage());
            LensException lens = assertThrows(LensException.class, () -> LogitLens.run(phi, CLEAN, LogitLens.Options.defaults()));
            assertTrue(lens.getMessage().contains("'resid_post'") && lens.getMessage().contains("'accumulated_resid'"), lens.getMessage());
        } finally {
            phi.close();
        }
        Model gemma = TestLens.lens().load(models.resolve("gemma2"));
        try {
            LogitLens.Options last = LogitLens.Options.defaults().withSource(LogitLens.Source.RESID_POST).withPositions(List.of(-1));
            LogitLens.Result uncapped = LogitLens.run(gemma, CLEAN, last);
            assertTrue(uncapped.outputTransform().contains("soft-cap") && !uncapped.outputTransformApplied(), uncapped.outputTransform());
            double[][][] kl = uncapped.kl();
            assertTrue(kl[kl.length - 1][0][0] > 1e-4, "uncapped last row differs from the capped output");
            LogitLens.Result capped = LogitLens.run(gemma, CLEAN, last.withOutputTransform(true));
            double[][][] klCapped = capped.kl();
            assertTrue(capped.outputTransformApplied() && Math.abs(klCapped[klCapped.length - 1][0][0]) <= 1e-5, "the last row is the output");
        } finally {
            gemma.close();
        }
    }
}
