package org.lens4j.hook;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lens4j.hook.HookFixtures.PROMPTS;
import static org.lens4j.hook.HookFixtures.TOL;
import static org.lens4j.hook.HookFixtures.assertMatches;
import static org.lens4j.hook.HookFixtures.assertNoHooks;
import static org.lens4j.hook.HookFixtures.maxAbsDiff;
import static org.lens4j.hook.HookFixtures.ref;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.CallbackFailedException;
import org.lens4j.HandleClosedException;
import org.lens4j.HookSet;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Scope;
import org.lens4j.Tensor;

/** Java lambda hooks through the callback path: read, modify in place, replace, nest calls, fail cleanly. */
class JavaHookTest {
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

    @Test
    void lambdasReadModifyInPlaceAndReplace() {
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            List<HookPoint> seen = new ArrayList<>();
            List<float[]> read = new ArrayList<>();
            List<Tensor> kept = new ArrayList<>();
            Tensor logits = model.runWithHooks(tokens,
                    Hook.at("blocks.0.hook_resid_pre").java((act, hook) -> { // read
                        seen.add(hook);
                        read.add(act.toFloatArray());
                        kept.add(act.copy());
                        assertArrayEquals(new long[] {2, 15, 64}, act.shape());
                        return null;
                    }),
                    Hook.at("blocks.1.attn.hook_z").positions(-1).heads(1).java((z, hook) -> { // modify in place
                        seen.add(hook);
                        assertArrayEquals(new long[] {2, 1, 1, 16}, z.shape());
                        try (Tensor zeros = z.mul(0.0)) {
                            z.copyFrom(zeros);
                        }
                        return null;
                    }));
            assertMatches("case/zero_head_pos", logits);
            assertTrue(maxAbsDiff(ref("act/blocks.0.hook_resid_pre"), read.get(0)) <= TOL);
            assertMatches("act/blocks.0.hook_resid_pre", kept.get(0)); // a copy outlives the call
            assertEquals(new HookPoint("blocks.0.hook_resid_pre", 0, Direction.FORWARD), seen.get(0));
            assertEquals(new HookPoint("blocks.1.attn.hook_z", 1, Direction.FORWARD), seen.get(1));

            // replace: return a new tensor of the same shape
            Tensor replaced = model.runWithHooks(tokens, Hook.at("blocks.1.hook_mlp_out").java((act, hook) -> act.mul(2.0)));
            assertMatches("case/mlp_out_times_2", replaced);
            // modify an index-list region in place (a copy that Python writes back), then a declarative action after it
            Tensor listRegion = model.runWithHooks(tokens, Hook.at("blocks.0.hook_resid_pre")
                    .positionsPerPrompt(new int[] {1, 3}, new int[] {2}).java((act, hook) -> {
                        act.copyFrom(act.mul(0.0));
                        return null;
                    }));
            assertMatches("case/per_prompt", listRegion);
            // hooks outside the blocks have no layer
            List<HookPoint> embed = new ArrayList<>();
            model.runWithHooks(tokens, Hook.at("hook_embed").java((act, hook) -> {
                embed.add(hook);
                return null;
            }));
            assertEquals(null, embed.get(0).layer());
        }
    }

    @Test
    void theActivationHandleDiesWithTheCallAndNothingLeaksInPython() {
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            model.runWithHooks(tokens, Hook.at("hook_embed").java((a, h) -> null)).close(); // warm
            int before = lens.pythonHandleCount();
            List<Tensor> leaked = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                model.runWithHooks(tokens, Hook.at(Names.glob("blocks.*.hook_resid_pre")).java((act, hook) -> {
                    leaked.add(act);
                    return null;
                })).close();
            }
            assertEquals(before, lens.pythonHandleCount(), "activation handles were left in Python");
            assertTrue(leaked.get(0).isClosed());
            assertThrows(HandleClosedException.class, () -> leaked.get(0).toFloatArray());
        }
    }

    @Test
    void nestedCallsFromInsideALambda() {
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            AtomicInteger depth = new AtomicInteger();
            List<Double> inner = new ArrayList<>();
            List<String> strTokens = new ArrayList<>();
            Hook nesting = Hook.at("blocks.1.hook_mlp_out").java((act, hook) -> {
                if (depth.getAndIncrement() > 0) {
                    return null; // the nested forward fires this hook again: keep it
                }
                try {
                    strTokens.addAll(model.toStrTokens("When John"));
                    // a whole forward of the same model, with its own declarative hook, inside this hook
                    try (HookRun run = model.runWithHooks(tokens, HookRunOptions.defaults().withReturnType(org.lens4j.RunOptions.ReturnType.BOTH),
                            Hook.at("blocks.0.hook_resid_pre").capture("x"))) {
                        inner.add(run.lossValue());
                        assertMatches("act/blocks.0.hook_resid_pre", run.captures().get("x"));
                    }
                    return act.mul(2.0);
                } finally {
                    depth.decrementAndGet();
                }
            });
            Tensor logits = model.runWithHooks(tokens, nesting);
            assertMatches("case/mlp_out_times_2", logits);
            assertEquals(1, inner.size());
            assertEquals(List.of("<|endoftext|>", "When", " John"), strTokens);
            // an op that fails inside the lambda and is caught there does not abort the run
            Tensor survived = model.runWithHooks(tokens, Hook.at("blocks.1.hook_mlp_out").java((act, hook) -> {
                assertThrows(InvalidInputException.class, () -> model.toSingleToken(" John and Mary"));
                return act.mul(2.0);
            }));
            assertMatches("case/mlp_out_times_2", survived);
        }
    }

    @Test
    void anExceptionInsideALambdaAbortsTheRunWithItsCauseAndLeavesNoHooks() {
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            IllegalStateException boom = new IllegalStateException("boom");
            AtomicInteger calls = new AtomicInteger();
            CallbackFailedException e = assertThrows(CallbackFailedException.class, () -> model.runWithHooks(tokens,
                    Hook.at("blocks.0.attn.hook_z").capture(),
                    Hook.at(Names.glob("blocks.*.attn.hook_pattern")).java((p, h) -> {
                        calls.incrementAndGet();
                        throw boom;
                    })));
            assertSame(boom, e.getCause());
            assertEquals(1, calls.get(), "the run went on after the exception");
            assertNoHooks(model);
            // a failing nested call that the lambda does not catch: its exception is the cause
            CallbackFailedException nested = assertThrows(CallbackFailedException.class, () -> model.runWithHooks(tokens,
                    Hook.at("blocks.1.hook_resid_pre").java((act, hook) -> {
                        model.toSingleToken(" John and Mary");
                        return null;
                    })));
            assertInstanceOf(InvalidInputException.class, nested.getCause());
            assertNoHooks(model);
            // a replacement of the wrong shape
            InvalidInputException shape = assertThrows(InvalidInputException.class, () -> model.runWithHooks(tokens,
                    Hook.at("blocks.1.hook_resid_pre").java((act, hook) -> act.select(0, 0))));
            assertTrue(shape.getMessage().contains("shape"), shape.getMessage());
            assertNoHooks(model);
            // with hooks added on purpose: the failure removes only the run's own
            try (HookSet kept = model.addHook(Hook.at("blocks.0.hook_resid_pre").java((a, h) -> null), true)) {
                assertThrows(CallbackFailedException.class, () -> model.runWithHooks(tokens,
                        Hook.at("blocks.1.hook_resid_pre").java((a, h) -> {
                            throw new IllegalArgumentException("no");
                        })));
                assertEquals(java.util.Map.of("blocks.0.hook_in", new Attached(1, 0, 1)), model.attachedHooks());
            }
            // the worker is fine afterwards
            assertMatches("plain", model.logits(tokens));
        }
    }
}
