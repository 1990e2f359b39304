package org.lens4j.hook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lens4j.hook.HookFixtures.PROMPTS;
import static org.lens4j.hook.HookFixtures.assertMatches;
import static org.lens4j.hook.HookFixtures.assertNoHooks;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.ActName;
import org.lens4j.ErrorKind;
import org.lens4j.HookSet;
import org.lens4j.Input;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Scope;
import org.lens4j.Slice;
import org.lens4j.Tensor;

/** Hooks checked before the run; added, permanent and scoped hooks; resets; nothing left behind after any failure. */
class HookLifecycleTest {
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
    void badHooksFailBeforeTheRunAndSayWhatIsValid() {
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            InvalidInputException unknown = assertThrows(InvalidInputException.class,
                    () -> model.runWithHooks(tokens, Hook.at("blocks.0.attn.hook_zz").zero()));
            assertEquals(ErrorKind.UNKNOWN_HOOK, unknown.kind());
            assertTrue(((List<?>) unknown.details().get("nearest")).contains("blocks.0.attn.hook_z"), unknown.details().toString());
            InvalidInputException inFilter = assertThrows(InvalidInputException.class,
                    () -> model.runWithHooks(tokens, Hook.at(Names.of("blocks.1.hook_resid_pr")).zero()));
            assertTrue(((List<?>) inFilter.details().get("nearest")).contains("blocks.1.hook_resid_pre"), inFilter.details().toString());
            assertThrows(InvalidInputException.class, () -> model.runWithHooks(tokens, Hook.at(Names.glob("blocks.*.attn.hook_patern")).zero()));
            InvalidInputException gated = assertThrows(InvalidInputException.class,
                    () -> model.runWithHooks(tokens, Hook.at("blocks.0.attn.hook_result").zero()));
            assertTrue(gated.getMessage().contains("use_attn_result"), gated.getMessage());
            InvalidInputException heads = assertThrows(InvalidInputException.class,
                    () -> model.runWithHooks(tokens, Hook.at("blocks.0.hook_resid_pre").heads(1).zero()));
            assertTrue(heads.getMessage().contains("no head axis"), heads.getMessage());
            assertThrows(InvalidInputException.class, () -> model.runWithHooks(tokens, Hook.at(ActName.of("z", 0)).heads(7).zero()));
            IllegalArgumentException noAction = assertThrows(IllegalArgumentException.class,
                    () -> model.runWithHooks(tokens, Hook.at("blocks.0.hook_resid_pre").positions(-1)));
            assertTrue(noAction.getMessage().contains("zero()"), noAction.getMessage());
            // failures that only the activation reveals abort the run
            InvalidInputException pos = assertThrows(InvalidInputException.class,
                    () -> model.runWithHooks(tokens, Hook.at("blocks.0.hook_resid_pre").positions(40).zero()));
            assertTrue(pos.getMessage().contains("out of range"), pos.getMessage());
            InvalidInputException shape = assertThrows(InvalidInputException.class,
                    () -> model.runWithHooks(tokens, Hook.at("blocks.0.hook_resid_pre").set(lens.tensor(new float[15], 3, 5))));
            assertEquals(ErrorKind.SHAPE_MISMATCH, shape.kind());
            // a filter sweeps past gated points and hooks each point once; resolve runs nothing
            List<HookPoint> points = model.resolveHooks(Hook.at(Names.glob("blocks.*.attn.hook_*")).capture());
            assertTrue(points.stream().anyMatch(p -> p.name().equals("blocks.1.attn.hook_z")));
            assertFalse(points.stream().anyMatch(p -> p.name().endsWith("hook_result")));
            assertEquals(points.size(), points.stream().map(HookPoint::name).distinct().count());
            assertEquals(List.of(new HookPoint("blocks.1.attn.hook_z", 1, Direction.BACKWARD)),
                    model.resolveHooks(Hook.at(ActName.of("z", 1)).backward().zero()));
            // backward hooks in a forward-only run
            assertThrows(InvalidInputException.class, () -> model.runWithHooks(tokens, Hook.at(ActName.of("z", 1)).backward().zero()));
        }
    }

    @Test
    void addedHooksStayOnUntilRemovedAndPermanentOnesSurviveAReset() {
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            AtomicInteger calls = new AtomicInteger();
            HookSet temporary = model.addHook(Hook.at("blocks.1.attn.hook_z").positions(-1).heads(1).zero());
            HookSet permanent = model.addHook(Hook.at("blocks.0.hook_resid_pre").java((a, h) -> {
                calls.incrementAndGet();
                return null;
            }).captureEach("resid"), true);
            assertFalse(temporary.isPermanent());
            assertTrue(permanent.isPermanent());
            assertMatches("case/zero_head_pos", model.logits(tokens)); // added hooks fire in plain forwards
            model.logits(tokens);
            assertEquals(2, calls.get());
            Captures captured = permanent.captures();
            assertEquals(2, captured.list("resid").size());
            assertMatches("act/blocks.0.hook_resid_pre", captured.list("resid").get(1));
            assertTrue(permanent.captures().isEmpty(), "a read clears the captures");

            assertEquals(1, model.resetHooks());
            assertTrue(temporary.isRemoved());
            assertFalse(permanent.isRemoved());
            assertEquals(Map.of("blocks.0.hook_in", new Attached(1, 0, 1)), model.attachedHooks());
            assertMatches("plain", model.logits(tokens));
            assertEquals(0, temporary.remove());

            HookSet backward = model.addHook(Hook.at("blocks.1.hook_resid_pre").backward().capture(), true);
            assertEquals(1, model.resetHooks(true, Direction.BACKWARD));
            assertTrue(backward.isRemoved());
            assertFalse(permanent.isRemoved());
            assertEquals(1, model.resetHooks(true, Direction.BOTH));
            assertTrue(permanent.isRemoved());
            assertEquals(0, permanent.remove());
            model.logits(tokens);
            assertEquals(3, calls.get(), "a reset hook still fired");
        }
    }

    @Test
    void aHooksScopeRemovesItsHooksEvenWhenTheBlockFails() {
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            RuntimeException failure = new RuntimeException("the block failed");
            RuntimeException thrown = assertThrows(RuntimeException.class, () -> {
                try (HookSet on = model.hooks(Hook.at("blocks.1.attn.hook_z").positions(-1).heads(1).zero(),
                        Hook.at("blocks.0.hook_resid_pre").java((a, h) -> null))) {
                    assertEquals(2, model.attachedHooks().size());
                    assertMatches("case/zero_head_pos", model.logits(tokens));
                    throw failure;
                }
            });
            assertEquals(failure, thrown);
            assertNoHooks(model);
            // adding a set whose second hook is bad adds none of them
            assertThrows(InvalidInputException.class, () -> model.hooks(Hook.at("blocks.0.hook_resid_pre").zero(),
                    Hook.at("blocks.0.hook_resid_pree").zero()));
            assertNoHooks(model);
            // a failing run while a scope is open leaves the scope's hooks, and closing removes them
            try (HookSet on = model.hooks(Hook.at("blocks.1.attn.hook_z").positions(-1).heads(1).zero())) {
                assertThrows(InvalidInputException.class, () -> model.runWithHooks(tokens, Hook.at("blocks.0.hook_resid_pre").positions(99).zero()));
                assertEquals(1, model.attachedHooks().size());
            }
            assertMatches("plain", model.logits(tokens));
        }
    }

    @Test
    void sliceSelectionsAndTypedInputsReachTheRegionsTransformerLensDoes() {
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            // Slice.at(i) keeps the axis in a hook: the same region as positions(-1).heads(1), checked against TransformerLens
            assertMatches("case/zero_head_pos", model.runWithHooks(Input.of(tokens),
                    Hook.at("blocks.1.attn.hook_z").positions(Slice.at(-1)).heads(Slice.at(1)).zero()));
            // a stepped range and an index list: heads 1 and 3, positions 1 and 5
            assertMatches("case/scale_attn_scores", model.runWithHooks(tokens,
                    Hook.at("blocks.0.attn.hook_attn_scores").heads(Slice.range(1, 4, 2)).positions(Slice.indices(1, 5)).scale(3.0)));
            // prompts given as an Input, as a List<String> and as their tokens run the same model input
            assertMatches("case/zero_head_pos", model.runWithHooks(Input.of(PROMPTS), Hook.at("blocks.1.attn.hook_z").positions(-1).heads(1).zero()));
            assertMatches("case/zero_head_pos", model.runWithHooks(PROMPTS, Hook.at("blocks.1.attn.hook_z").positions(-1).heads(1).zero()));
            // Slice.all() selects everything, as leaving the selector out does
            assertMatches("plain", model.runWithHooks(tokens, Hook.at("blocks.0.hook_resid_pre").positions(Slice.all()).scale(1.0)));
        }
    }

    @Test
    void hooksShowWhatTheyHoldAsData() {
        Hook h = Hook.at(ActName.of("z", 9)).batch(0).positions(Slice.range(1, 4)).heads(9, 10).scale(0.5).capture("z");
        assertEquals(List.of("blocks.9.attn.hook_z"), h.names());
        assertTrue(h.filter().isEmpty());
        assertEquals(Slice.indices(0), h.selectedBatch());
        assertEquals(Slice.range(1, 4), h.selectedPositions());
        assertEquals(Slice.indices(9, 10), h.selectedHeads());
        assertEquals(List.of(), h.selectedPositionsPerPrompt());
        assertEquals(List.of(new Hook.Action("scale", Map.of("factor", 0.5)), new Hook.Action("capture", Map.of("key", "z"))), h.actions());
        Hook perPrompt = Hook.at(Names.only("resid_pre")).positionsPerPrompt(new int[] {1, 3}, new int[] {2}).backward().zero();
        assertEquals(List.of(), perPrompt.names());
        assertTrue(perPrompt.filter().isPresent());
        assertEquals(Direction.BACKWARD, perPrompt.direction());
        assertEquals(List.of(List.of(1, 3), List.of(2)), perPrompt.selectedPositionsPerPrompt());
        assertEquals(Slice.all(), perPrompt.selectedPositions());
        assertEquals(Slice.all(), perPrompt.selectedHeads());
        // per-prompt positions and a positions selector replace each other
        assertEquals(List.of(), perPrompt.positions(-1).selectedPositionsPerPrompt());
        assertEquals(Slice.indices(-1), perPrompt.positions(-1).selectedPositions());

        Backward diff = Backward.logitDiff(new int[] {5, 6}, new int[] {7, 8}).atPosition(-2);
        assertEquals(Backward.Kind.LOGIT_DIFF, diff.kind());
        assertEquals(List.of(5, 6), diff.good());
        assertEquals(List.of(7, 8), diff.bad());
        assertEquals(-2, diff.position());
        assertTrue(diff.metric().isEmpty());
        Backward.Metric metric = logits -> logits.mean();
        assertEquals(metric, Backward.metric(metric).metric().orElseThrow());
        assertEquals(Backward.Kind.LOSS, Backward.loss().kind());
        assertThrows(IllegalStateException.class, () -> Backward.loss().atPosition(0));
    }

    @Test
    void hooksAreImmutableAndPrintable() {
        Hook base = Hook.at(ActName.of("z", 9)).positions(-1);
        Hook zero = base.heads(9).zero();
        Hook scaled = base.scale(0.5);
        assertEquals("Hook[blocks.9.attn.hook_z pos=-1: ]", base.toString());
        assertEquals("Hook[blocks.9.attn.hook_z pos=-1 head=9: zero]", zero.toString());
        assertEquals("Hook[blocks.9.attn.hook_z pos=-1: scale(factor=0.5)]", scaled.toString());
        assertEquals(List.of(), base.actions());
        assertEquals(Direction.BACKWARD, zero.backward().direction());
        assertEquals(Direction.FORWARD, zero.direction());
        assertEquals("Hook[blocks.0.hook_resid_pre pos=[[1, 3], [2]]: capture(key=x, append=true)]",
                Hook.at("blocks.0.hook_resid_pre").positionsPerPrompt(new int[] {1, 3}, new int[] {2}).captureEach("x").toString());
        assertEquals("Hook[blocks.0.hook_resid_pre pos=1:4: zero]", Hook.at("blocks.0.hook_resid_pre").positions(Slice.range(1, 4)).zero().toString());
        assertThrows(IllegalArgumentException.class, () -> Hook.at(new String[0]));
        assertThrows(IllegalArgumentException.class, () -> base.heads());
        assertThrows(IllegalArgumentException.class, () -> base.scale(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> Slice.range(0, 3, 0));
    }
}
