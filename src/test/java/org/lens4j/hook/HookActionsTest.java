package org.lens4j.hook;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lens4j.hook.HookFixtures.CLEAN;
import static org.lens4j.hook.HookFixtures.CORRUPT;
import static org.lens4j.hook.HookFixtures.PROMPTS;
import static org.lens4j.hook.HookFixtures.TOL;
import static org.lens4j.hook.HookFixtures.assertMatches;
import static org.lens4j.hook.HookFixtures.assertNoHooks;
import static org.lens4j.hook.HookFixtures.maxAbsDiff;
import static org.lens4j.hook.HookFixtures.ref;
import static org.lens4j.hook.HookFixtures.refShape;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.ActName;
import org.lens4j.ActivationCache;
import org.lens4j.HookSet;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Run;
import org.lens4j.RunOptions.ReturnType;
import org.lens4j.Scope;
import org.lens4j.Slice;
import org.lens4j.Tensor;

/**
 * Every declarative action and selector, and the seeds' hooks, from Java equal the same hook
 * written by hand against TransformerLens in a separate process (reference_hooks.py), fp32
 * max abs diff <= 1e-5.
 */
class HookActionsTest {
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
    void everyActionAndSelectorMatchesAHandWrittenPythonHook() {
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            ActivationCache clean = model.runWithCache(tokens.index(0, 1, 0)).cache(); // the prompts swapped: a batch-aligned clean run
            float[] vecArray = ref("in/vec");
            Tensor vec = HookFixtures.refTensor("in/vec");
            Tensor srcFull = HookFixtures.refTensor("in/src_full");
            Map<String, Hook[]> cases = new LinkedHashMap<>();
            cases.put("zero_head_pos", new Hook[] {Hook.at("blocks.1.attn.hook_z").positions(-1).heads(1).zero()});
            cases.put("zero_range_batch", new Hook[] {Hook.at("blocks.0.hook_resid_pre").batch(1).positions(Slice.range(1, 4)).zero()});
            cases.put("mean_dim0_pos_list", new Hook[] {Hook.at("blocks.0.hook_resid_mid").positions(0, 2).mean(0)});
            cases.put("mean_source", new Hook[] {Hook.at("resid_pre", 1).positions(-1).meanFrom(vec)});
            cases.put("mean_from_cache", new Hook[] {Hook.at("blocks.1.hook_mlp_out").meanFrom(clean, 0)});
            cases.put("patch_heads_list", new Hook[] {Hook.at(ActName.of("v", 0)).positions(-2).heads(0, 2).patchFrom(clean)});
            cases.put("patch_other_name", new Hook[] {Hook.at("blocks.1.hook_resid_pre").positions(Slice.from(2))
                    .patchFrom(clean, "blocks.0.hook_resid_pre")});
            cases.put("resample_perm", new Hook[] {Hook.at("blocks.0.mlp.hook_post").resampleFrom(clean, new long[] {0, 0})});
            cases.put("resample_seed", new Hook[] {Hook.at("blocks.0.mlp.hook_post").resampleFrom(clean, 2L)});
            cases.put("add_vector", new Hook[] {Hook.at("blocks.0.hook_resid_post").batch(0).add(vec, 2.0)});
            cases.put("add_java_array", new Hook[] {Hook.at("blocks.0.hook_resid_post").add(vecArray, 1.0)});
            cases.put("scale_pattern_query", new Hook[] {Hook.at("blocks.1.attn.hook_pattern").positions(-1).heads(3).scale(0.5)});
            cases.put("scale_attn_scores", new Hook[] {Hook.at("blocks.0.attn.hook_attn_scores").heads(1, 3).positions(1, 5).scale(3.0)});
            cases.put("set_full", new Hook[] {Hook.at("blocks.1.attn.hook_q").batch(0).heads(1, 2).set(srcFull)});
            cases.put("per_prompt", new Hook[] {Hook.at("blocks.0.hook_resid_pre").positionsPerPrompt(new int[] {1, 3}, new int[] {2}).zero()});
            cases.put("per_prompt_head", new Hook[] {Hook.at("blocks.0.attn.hook_z").positionsPerPrompt(new int[] {1}, new int[] {-1})
                    .heads(1).scale(3.0)});
            cases.put("composed", new Hook[] {Hook.at("blocks.1.hook_resid_mid").positions(Slice.from(-2)).scale(0.5),
                    Hook.at("blocks.1.hook_resid_mid").add(vec, 2.0)});
            cases.put("glob_heads", new Hook[] {Hook.at(Names.glob("blocks.*.attn.hook_z")).heads(0).zero()});
            cases.put("filter_mlp_out", new Hook[] {Hook.at(Names.matching(n -> n.endsWith("hook_mlp_out"))).scale(0.25)});

            float[] plain = ref("plain");
            for (Map.Entry<String, Hook[]> c : cases.entrySet()) {
                Tensor logits = model.runWithHooks(tokens, c.getValue());
                assertMatches("case/" + c.getKey(), logits);
                assertTrue(maxAbsDiff(plain, ref("case/" + c.getKey())) > 1e-4, c.getKey() + ": the hook changed nothing, so the test could not fail");
            }
            assertMatches("plain", model.logits(tokens)); // nothing stayed on
        }
    }

    @Test
    void capturesHoldTheSelectedRegionAfterEarlierActions() {
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            HookRun run = model.runWithHooks(tokens, HookRunOptions.defaults().withReturnType(ReturnType.NONE),
                    Hook.at("blocks.1.attn.hook_z").positions(-1).heads(2).capture("before").scale(2.0).capture("after"),
                    Hook.at("blocks.0.hook_resid_pre").capture());
            assertEquals(null, run.logits());
            float[] z = ref("act/blocks.1.attn.hook_z"); // [2, 15, 4, 16]
            float[] want = new float[2 * 16];
            for (int b = 0; b < 2; b++) {
                System.arraycopy(z, ((b * 15 + 14) * 4 + 2) * 16, want, b * 16, 16);
            }
            Tensor before = run.captures().get("before");
            assertArrayEquals(new long[] {2, 1, 1, 16}, before.shape());
            assertTrue(maxAbsDiff(want, before.toFloatArray()) <= TOL);
            float[] after = run.captures().get("after").toFloatArray();
            for (int i = 0; i < want.length; i++) {
                assertEquals(2 * want[i], after[i], TOL);
            }
            assertMatches("act/blocks.0.hook_resid_pre", run.captures().get("blocks.0.hook_resid_pre"));
        }
    }

    @Test
    void stopAtLayerSkipsLaterHooksLikeTransformerLens() {
        try (Scope scope = lens.scope()) {
            HookRun run = model.runWithHooks(model.toTokens(PROMPTS), HookRunOptions.defaults().withStopAtLayer(1),
                    Hook.at("blocks.0.hook_resid_mid").scale(2.0), Hook.at("blocks.1.hook_resid_pre").capture());
            assertMatches("stop_at_layer", run.logits());
            assertTrue(run.captures().isEmpty());
        }
    }

    /** Seed 000: activation_patching_hook on resid_pre at each layer and position. */
    @Test
    void seed000ResidPrePatchingAtEachPosition() {
        float[] all = ref("s000/patched_logits"); // [layer, position, 1, pos, vocab]
        long[] shape = refShape("s000/patched_logits");
        int positions = (int) shape[1];
        int size = (int) (shape[2] * shape[3] * shape[4]);
        try (Scope outer = lens.scope()) {
            ActivationCache clean = model.runWithCache(CLEAN).cache();
            Tensor corrupt = model.toTokens(CORRUPT);
            assertEquals(positions, corrupt.size(1));
            for (int layer = 0; layer < model.cfg().nLayers(); layer++) {
                for (int position = 0; position < positions; position++) {
                    try (Scope scope = lens.scope()) {
                        Tensor logits = model.runWithHooks(corrupt, Hook.at(ActName.of("resid_pre", layer)).positions(position).patchFrom(clean));
                        float d = maxAbsDiff(HookFixtures.slice(all, layer * positions + position, size), logits.toFloatArray());
                        assertTrue(d <= TOL, "layer " + layer + " position " + position + " differs by " + d);
                    }
                }
            }
        }
    }

    /** Seed 004: patch / zero / mean ablation of one head's z at the last position, every layer and head. */
    @Test
    void seed004ZeroMeanPatchOfOneHeadsZAtTheLastPosition() {
        float[] all = ref("s004/logits"); // [layer, head, 3, 1, pos, vocab]
        long[] shape = refShape("s004/logits");
        int size = (int) (shape[3] * shape[4] * shape[5]);
        try (Scope outer = lens.scope()) {
            ActivationCache cache = model.runWithCache(CLEAN).cache();
            Tensor corrupt = model.toTokens(CORRUPT);
            int nHeads = model.cfg().nHeads();
            for (int layer = 0; layer < model.cfg().nLayers(); layer++) {
                Hook lastPos = Hook.at(ActName.of("z", layer, "attn")).positions(-1);
                for (int head = 0; head < nHeads; head++) {
                    Hook[] ablations = {lastPos.heads(head).patchFrom(cache), lastPos.heads(head).zero(), lastPos.heads(head).meanFrom(cache, 3)};
                    for (int k = 0; k < 3; k++) {
                        try (Scope scope = lens.scope()) {
                            Tensor logits = model.runWithHooks(corrupt, ablations[k]);
                            float d = maxAbsDiff(HookFixtures.slice(all, (layer * nHeads + head) * 3 + k, size), logits.toFloatArray());
                            assertTrue(d <= TOL, "layer " + layer + " head " + head + " " + ablations[k] + " differs by " + d);
                        }
                    }
                }
            }
        }
    }

    /** Seed 001: previous-token, duplicate-token and induction scores from attention-pattern hooks with a pattern filter. */
    @Test
    void seed001PatternScoreHooksWithAPatternFilter() {
        int seqLen = 12;
        int nLayers = model.cfg().nLayers();
        int nHeads = model.cfg().nHeads();
        String[] keys = {"prev", "dup", "induction"};
        int[] offsets = {1, seqLen, seqLen - 1};
        try (Scope scope = lens.scope()) {
            Tensor repeated = HookFixtures.refTokens("in/repeated_tokens");
            // Java lambdas, one per score, as the seed writes them
            float[][][] scores = new float[3][nLayers][];
            Names patternFilter = Names.matching(name -> name.endsWith("hook_pattern"));
            Hook[] hooks = new Hook[3];
            for (int k = 0; k < 3; k++) {
                int key = k;
                hooks[k] = Hook.at(patternFilter).java((pattern, hook) -> {
                    // pattern.diagonal(offset, dim1=-1, dim2=-2) is diagonal(-offset) over (q, k)
                    try (Tensor diagonal = pattern.diagonal(-offsets[key]); Tensor mean = diagonal.mean(0, 2)) {
                        scores[key][hook.layerIndex()] = mean.toFloatArray();
                    }
                    return null;
                });
            }
            HookRun run = model.runWithHooks(repeated, HookRunOptions.defaults().withReturnType(ReturnType.LOSS), hooks);
            assertEquals(ref("s001/loss")[0], run.lossValue(), TOL);
            // the same scores from a declarative capture over a glob
            HookRun captured = model.runWithHooks(repeated, HookRunOptions.defaults().withReturnType(ReturnType.NONE),
                    Hook.at(Names.glob("blocks.*.attn.hook_pattern")).capture("pattern{layer}"));
            assertEquals(nLayers, captured.captures().keys().size());
            for (int k = 0; k < 3; k++) {
                float[] want = ref("s001/" + keys[k]);
                float[] got = new float[nLayers * nHeads];
                float[] fromCapture = new float[nLayers * nHeads];
                for (int layer = 0; layer < nLayers; layer++) {
                    System.arraycopy(scores[k][layer], 0, got, layer * nHeads, nHeads);
                    float[] c = captured.captures().get("pattern" + layer).diagonal(-offsets[k]).mean(0, 2).toFloatArray();
                    System.arraycopy(c, 0, fromCapture, layer * nHeads, nHeads);
                }
                assertTrue(maxAbsDiff(want, got) <= TOL, keys[k] + " scores from Java hooks differ");
                assertTrue(maxAbsDiff(want, fromCapture) <= TOL, keys[k] + " scores from captures differ");
                float sum = 0;
                for (float v : want) {
                    sum += Math.abs(v);
                }
                assertTrue(sum > 0, keys[k] + " scores are all zero: the test could not fail");
            }
        }
    }

    /** Seed 001, "Backup Name Mover Heads": ablate a head, then cache the ablated model (scope, and an added hook). */
    @Test
    void seed001AblateThenCache() {
        Hook ablate = Hook.at(ActName.of("z", 1)).positions(-1).heads(2).zero();
        try (Scope scope = lens.scope()) {
            Tensor tokens = model.toTokens(PROMPTS);
            try (HookSet on = model.hooks(ablate)) {
                Run run = model.runWithCache(tokens, Names.of("blocks.1.hook_attn_out"));
                assertMatches("ablated/logits", run.logits());
                assertMatches("ablated/blocks.1.hook_attn_out", run.cache().get("blocks.1.hook_attn_out"));
                assertEquals(1, model.attachedHooks().size());
            }
            assertNoHooks(model);
            HookSet added = model.addHook(ablate);
            Run run = model.runWithCache(tokens, Names.of("blocks.1.hook_attn_out"), new Hook[0]); // through hooks.run_with_cache
            assertMatches("ablated/logits", run.logits());
            assertEquals(1, model.resetHooks());
            assertTrue(added.isRemoved());
            // the same intervention given to runWithCache directly
            Run direct = model.runWithCache(tokens, Names.of("blocks.1.hook_attn_out"), ablate);
            assertMatches("ablated/blocks.1.hook_attn_out", direct.cache().get("blocks.1.hook_attn_out"));
        }
    }
}
