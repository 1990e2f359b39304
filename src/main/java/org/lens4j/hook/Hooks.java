package org.lens4j.hook;

import org.lens4j.internal.LensAccess;
import org.lens4j.internal.Args;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.WeakHashMap;
import org.lens4j.Lens;
import org.lens4j.Names;
import org.lens4j.Run;
import org.lens4j.RunOptions;
import org.lens4j.Tensor;
import org.lens4j.engine.Reply;

/**
 * The hook operations on a model. {@code Model}'s {@code runWithHooks}, {@code addHook},
 * {@code hooks}, {@code resetHooks}, {@code runWithCache(input, names, hooks...)},
 * {@code runWithGradients} and {@code generate} delegate here; call these directly when you
 * hold a model and want the hook API in one place.
 *
 * <pre>{@code
 * List<HookPoint> points = Hooks.resolve(model, Hook.at(Names.glob("blocks.*.attn.hook_z")).zero()); // checks, runs nothing
 * Tensor logits = Hooks.runWithHooks(model, prompt, Hook.at(ActName.of("z", 1)).heads(0).zero());
 * Map<String, Hooks.Attached> on = Hooks.attached(model);   // {} when no hook is left on the model
 * }</pre>
 */
public final class Hooks {
    /** Added hook sets per model, so that a reset can drop the Java callbacks of the hooks it removed. */
    private static final Map<HookTarget, Set<HookSet>> ADDED = new WeakHashMap<>();

    private Hooks() {
    }

    /** How many hooks a hook point carries: forward, backward, and how many of them are permanent. */
    public record Attached(int forward, int backward, int permanent) {
    }

    /** Check hooks against the model without running anything: the hook points they reach (unknown names fail here). */
    public static List<HookPoint> resolve(HookTarget model, Hook... hooks) {
        try (HookCall call = HookCall.of(model, hooks)) {
            JsonNode v = call(model, "hooks.resolve", Args.of("hooks", call.specs()), call).value();
            List<HookPoint> out = new ArrayList<>();
            v.forEach(h -> out.add(new HookPoint(h.path("name").asText(), h.path("layer").canConvertToInt() ? h.path("layer").asInt() : null,
                    Direction.fromWire(h.path("dir").asText()))));
            return out;
        }
    }

    /** The logits of a run with these hooks on; captures are dropped (use the HookRunOptions form to get them). */
    public static Tensor runWithHooks(HookTarget model, Object input, Hook... hooks) {
        HookRun run = runWithHooks(model, input, HookRunOptions.defaults(), hooks);
        run.captures().close();
        return run.logits();
    }

    public static HookRun runWithHooks(HookTarget model, Object input, HookRunOptions options, Hook... hooks) {
        Objects.requireNonNull(options, "options");
        Lens lens = model.lens();
        try (HookCall call = HookCall.of(model, hooks)) {
            Args args = Args.of("input", LensAccess.ops(lens).input(input), "hooks", call.specs(), "return_type", wire(options.returnType()),
                    "stop_at_layer", options.stopAtLayer(), "prepend_bos", options.prependBos(), "padding_side", options.paddingSide(),
                    "loss_per_token", options.lossPerToken() ? true : null);
            JsonNode v = call(model, "hooks.run_with_hooks", args, call).value();
            return new HookRun(tensorOrNull(lens, v.get("logits")), tensorOrNull(lens, v.get("loss")), Captures.of(lens, v.get("captures")));
        }
    }

    // -- hooks that stay on ---------------------------------------------------------------------

    /**
     * Attach hooks until the returned set is closed or a reset removes them. Permanent hooks
     * survive {@code resetHooks()}; only {@code resetHooks(true, ...)} removes them.
     */
    public static HookSet add(HookTarget model, boolean permanent, Hook... hooks) {
        if (hooks.length == 0) {
            throw new IllegalArgumentException("add needs at least one hook");
        }
        try (HookCall call = HookCall.of(model, hooks)) {
            JsonNode v = call(model, "hooks.add", Args.of("hooks", call.specs(), "permanent", permanent), call).value();
            HookSet set = new HookSet(model, v, call.detachCallbacks());
            synchronized (ADDED) {
                ADDED.computeIfAbsent(model, m -> Collections.newSetFromMap(new IdentityHashMap<>())).add(set);
            }
            return set;
        }
    }

    static void forget(HookSet set) {
        synchronized (ADDED) {
            Set<HookSet> sets = ADDED.get(set.model());
            if (sets != null) {
                sets.remove(set);
            }
        }
    }

    /**
     * Remove added hooks: non-permanent ones, and permanent ones too with {@code includingPermanent};
     * of one direction or both. Returns how many hooks were removed.
     */
    public static int reset(HookTarget model, boolean includingPermanent, Direction direction) {
        Objects.requireNonNull(direction, "direction");
        JsonNode v = LensAccess.ops(model.lens()).call("hooks.reset", Map.of("model", model.ref(), "including_permanent", includingPermanent,
                "direction", direction.wire())).value();
        List<HookSet> affected = new ArrayList<>();
        synchronized (ADDED) {
            Set<HookSet> sets = ADDED.get(model);
            if (sets != null) {
                for (HookSet s : sets) {
                    if (includingPermanent || !s.isPermanent()) {
                        affected.add(s);
                    }
                }
            }
        }
        for (HookSet s : affected) {
            s.resetRemoved(direction);
            if (s.isRemoved()) {
                forget(s);
            }
        }
        return v.path("removed").asInt();
    }

    /** The hook points that carry hooks now, by name; empty when none is left. */
    public static Map<String, Attached> attached(HookTarget model) {
        JsonNode v = LensAccess.ops(model.lens()).call("hooks.list", Map.of("model", model.ref())).value();
        Map<String, Attached> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : v.properties()) {
            out.put(e.getKey(), new Attached(e.getValue().path("fwd").asInt(), e.getValue().path("bwd").asInt(),
                    e.getValue().path("permanent").asInt()));
        }
        return out;
    }

    // -- caches and gradients -------------------------------------------------------------------

    /** A cache taken while these hooks (and any added ones) are on: the intervened model's activations. */
    public static Run runWithCache(HookTarget model, Object input, Names names, RunOptions options, Hook... hooks) {
        Objects.requireNonNull(options, "options");
        Lens lens = model.lens();
        try (HookCall call = HookCall.of(model, hooks)) {
            Args args = Args.of("input", LensAccess.ops(lens).input(input), "hooks", call.specs(), "names", cacheNames(model, names),
                    "return_type", wire(options.returnType()), "prepend_bos", options.prependBos(), "padding_side", options.paddingSide(),
                    "stop_at_layer", options.stopAtLayer(), "remove_batch_dim", options.removeBatchDim() ? true : null);
            JsonNode v = call(model, "hooks.run_with_cache", args, call).value();
            Captures.of(lens, v.get("captures")).close();
            return new Run(tensorOrNull(lens, v.get("logits")), lossValue(lens, v.get("loss")), LensAccess.ops(lens).cache(v.get("cache")));
        }
    }

    /**
     * A cache with gradients: runs forward with the hooks on, then backward from {@code backward},
     * and adds {@code <name>_grad} for every cached name. Backward hooks ({@link Hook#backward()})
     * fire here. Gradients are recorded only during this call; no parameter gradient is left behind.
     */
    public static GradientRun runWithGradients(HookTarget model, Object input, Names names, Backward backward, Hook... hooks) {
        Objects.requireNonNull(backward, "backward");
        Lens lens = model.lens();
        List<Long> metricIds = new ArrayList<>();
        try (HookCall call = HookCall.of(model, hooks)) {
            Args args = Args.of("input", LensAccess.ops(lens).input(input), "hooks", call.specs(), "names", cacheNames(model, names),
                    "incl_bwd", true, "backward_of", backward.wire(lens, metricIds), "return_type", "both");
            JsonNode v = call(model, "hooks.run_with_cache", args, call).value();
            return new GradientRun(tensorOrNull(lens, v.get("logits")), lossValue(lens, v.get("loss")), v.path("metric").asDouble(),
                    LensAccess.ops(lens).cache(v.get("cache")), Captures.of(lens, v.get("captures")));
        } finally {
            metricIds.forEach(id -> LensAccess.ops(lens).unregister(id));
        }
    }

    private static List<String> cacheNames(HookTarget model, Names names) {
        Objects.requireNonNull(names, "names");
        return names.isAll() ? null : model.hookNames(names);
    }

    // -- generation -----------------------------------------------------------------------------

    /** Generate with the options' hooks on for every forward of the loop (added hooks fire too). */
    public static Generation generate(HookTarget model, Object input, GenerateOptions options) {
        Objects.requireNonNull(options, "options");
        Lens lens = model.lens();
        try (HookCall call = HookCall.of(model, options.hooks())) {
            Args args = Args.of("input", LensAccess.ops(lens).input(input), "hooks", call.specs(), "max_new_tokens", options.maxNewTokens(),
                    "do_sample", options.doSample(), "top_k", options.topK(), "top_p", options.topP(), "temperature", options.temperature(),
                    "seed", options.seed(), "stop_at_eos", options.stopAtEos(), "return_logits", options.returnLogits(),
                    "prepend_bos", options.prependBos(), "use_past_kv_cache", options.useKvCache());
            JsonNode v = call(model, "hooks.generate", args, call).value();
            List<String> texts = new ArrayList<>();
            if (v.path("text").isArray()) {
                v.path("text").forEach(t -> texts.add(t.asText()));
            } else {
                texts.add(v.path("text").asText());
            }
            return new Generation(texts.get(0), List.copyOf(texts), LensAccess.ops(lens).tensor(v.get("tokens")), tensorOrNull(lens, v.get("logits")),
                    Captures.of(lens, v.get("captures")));
        }
    }

    // -- helpers --------------------------------------------------------------------------------

    private static Reply call(HookTarget model, String op, Args args, HookCall call) {
        return LensAccess.ops(model.lens()).call(op, args.put("model", model.ref()).map(), call.blobs(), null);
    }

    private static String wire(RunOptions.ReturnType type) {
        return Objects.requireNonNull(type, "returnType").name().toLowerCase(Locale.ROOT);
    }

    private static Tensor tensorOrNull(Lens lens, JsonNode node) {
        return node == null || node.isNull() ? null : LensAccess.ops(lens).tensor(node);
    }

    private static Double lossValue(Lens lens, JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        try (Tensor loss = LensAccess.ops(lens).tensor(node)) {
            return loss.numel() == 1 ? loss.item() : null;
        }
    }
}
