package org.lens4j.hook;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lens4j.hook.HookFixtures.GEN_PROMPT;
import static org.lens4j.hook.HookFixtures.GRAD_NAMES;
import static org.lens4j.hook.HookFixtures.PROMPTS;
import static org.lens4j.hook.HookFixtures.TOL;
import static org.lens4j.hook.HookFixtures.assertMatches;
import static org.lens4j.hook.HookFixtures.assertNoHooks;
import static org.lens4j.hook.HookFixtures.ref;
import static org.lens4j.hook.HookFixtures.refLongs;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.CallbackFailedException;
import org.lens4j.HookSet;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Scope;
import org.lens4j.Slice;
import org.lens4j.Tensor;

/** Gradients in the cache and backward hooks (attribution patching), and generation with hooks on. */
class GradientAndGenerationTest {
    private static final int[] GOOD = {5, 7};
    private static final int[] BAD = {9, 11};
    private static Model model;
    private static Lens lens;

    @BeforeAll
    static void start() {
        HookFixtures.startReference();
        model = HookFixtures.tiny();
        lens = model.lens();
    }

    @AfterEach
    void noHooksLeft() {
        assertNoHooks(model);
    }

    private static Names gradNames() {
        return Names.of(GRAD_NAMES.toArray(String[]::new));
    }

    @Test
    void gradientsOfTheLossALogitDiffAndAJavaMetricMatchTransformerLens() {
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            GradientRun loss = model.runWithGradients(tokens, gradNames(), Backward.loss());
            assertEquals(ref("grad/loss")[0], loss.metric(), TOL);
            assertEquals(ref("grad/loss")[0], loss.loss(), TOL);
            for (String n : GRAD_NAMES) {
                assertMatches("grad/loss/" + n, loss.grad(n));
            }
            assertMatches("plain", loss.logits());

            GradientRun diff = model.runWithGradients(tokens, gradNames(), Backward.logitDiff(GOOD, BAD));
            assertEquals(ref("grad/logit_diff")[0], diff.metric(), TOL);
            for (String n : GRAD_NAMES) {
                assertMatches("grad/logit_diff/" + n, diff.grad(n));
            }
            // the same metric written in Java with tensor ops on the logits
            GradientRun java = model.runWithGradients(tokens, gradNames(), Backward.metric(logits -> {
                Tensor last = logits.select(1, -1);
                return last.index(1, 5, 7).sub(last.index(1, 9, 11)).diagonal(0).mean();
            }));
            assertEquals(ref("grad/logit_diff")[0], java.metric(), TOL);
            assertMatches("grad/logit_diff/blocks.1.attn.hook_z", java.grad("z", 1));
            // a metric that fails aborts with its cause
            IllegalStateException boom = new IllegalStateException("no metric");
            CallbackFailedException e = assertThrows(CallbackFailedException.class,
                    () -> model.runWithGradients(tokens, gradNames(), Backward.metric(logits -> {
                        throw boom;
                    }), Hook.at("blocks.0.hook_resid_pre").capture()));
            assertSame(boom, e.getCause());
        }
    }

    @Test
    void backwardHooksCaptureAndEditGradients() {
        String name = "blocks.1.hook_resid_pre";
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            List<HookPoint> seen = new ArrayList<>();
            GradientRun run = model.runWithGradients(tokens, Names.of("blocks.0.hook_resid_mid", name), Backward.loss(),
                    Hook.at(name).backward().capture().java((grad, hook) -> {
                        seen.add(hook);
                        return null;
                    }),
                    Hook.at(name).backward().positions(Slice.range(0, 3)).zero());
            assertMatches("bwd/captured", run.captures().get(name + "_grad"));
            assertMatches("bwd/blocks.0.hook_resid_mid_grad", run.grad("blocks.0.hook_resid_mid"));
            assertEquals(List.of(new HookPoint(name, 1, Direction.BACKWARD)), seen);
            // a failing Java backward hook
            assertThrows(CallbackFailedException.class, () -> model.runWithGradients(tokens, Names.of(name), Backward.loss(),
                    Hook.at(name).backward().java((g, h) -> {
                        throw new IllegalStateException("bwd");
                    })));
        }
    }

    @Test
    void aSteeringVectorAddedAtOneLayerDuringGeneration() {
        try (Scope scope = lens.scope()) {
            Tensor steer = HookFixtures.refTensor("in/steer");
            Hook steering = Hook.at("blocks.1.hook_resid_pre").add(steer, 2.0);
            List<Long> seenPositions = new ArrayList<>();
            Generation g = model.generate(GEN_PROMPT, GenerateOptions.greedy(8).withStopAtEos(false).withReturnLogits(true)
                    .withHooks(steering, Hook.at("blocks.0.hook_resid_pre").java((act, hook) -> {
                        seenPositions.add(act.size(1));
                        return null;
                    })));
            assertArrayEquals(refLongs("gen/steered"), g.tokens().toLongArray());
            assertFalse(java.util.Arrays.equals(refLongs("gen/plain"), g.tokens().toLongArray()), "the steering changed nothing");
            assertArrayEquals(new long[] {1, 8, model.cfg().dVocab()}, g.logits().shape());
            assertTrue(g.text().startsWith(GEN_PROMPT), g.text());
            assertEquals(List.of(g.text()), g.texts());
            assertEquals(8, seenPositions.size()); // the prompt, then one position per new token (KV cache)
            assertEquals(1L, seenPositions.get(1));

            Generation plain = model.generate(GEN_PROMPT, GenerateOptions.greedy(8).withStopAtEos(false));
            assertArrayEquals(refLongs("gen/plain"), plain.tokens().toLongArray());
            assertNotEquals(g.text(), plain.text());
            assertNull(plain.logits());
            // the same steering as a permanent hook
            try (HookSet on = model.addHook(steering, true)) {
                assertArrayEquals(refLongs("gen/steered"), model.generate(GEN_PROMPT, GenerateOptions.greedy(8).withStopAtEos(false))
                        .tokens().toLongArray());
            }

            // sampling with a seed is repeatable and is TransformerLens' own sampling under that seed
            GenerateOptions sample = GenerateOptions.sampling(6, 0.8).withTopK(20).withSeed(11L).withStopAtEos(false).withHooks(steering);
            Generation a = model.generate(List.of(GEN_PROMPT, GEN_PROMPT), sample);
            Generation b = model.generate(List.of(GEN_PROMPT, GEN_PROMPT), sample);
            assertArrayEquals(refLongs("gen/sampled_top_k"), a.tokens().toLongArray());
            assertArrayEquals(a.tokens().toLongArray(), b.tokens().toLongArray());
            assertEquals(2, a.texts().size());
            Generation nucleus = model.generate(GEN_PROMPT, GenerateOptions.sampling(6, 1.2).withTopP(0.9).withSeed(5L).withStopAtEos(false));
            assertArrayEquals(refLongs("gen/sampled_top_p"), nucleus.tokens().toLongArray());

            // a failing Java hook during generation leaves no hooks
            assertThrows(CallbackFailedException.class, () -> model.generate(GEN_PROMPT, GenerateOptions.greedy(3)
                    .withHooks(steering, Hook.at("blocks.1.hook_resid_pre").java((act, hook) -> {
                        throw new IllegalStateException("stop");
                    }))));
            assertThrows(IllegalArgumentException.class, () -> GenerateOptions.sampling(5, -1));
        }
    }
}
