package org.lens4j;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.lens4j.hook.Attached;
import org.lens4j.hook.Backward;
import org.lens4j.hook.Direction;
import org.lens4j.hook.GenerateOptions;
import org.lens4j.hook.Generation;
import org.lens4j.hook.GradientRun;
import org.lens4j.hook.Hook;
import org.lens4j.hook.HookPoint;
import org.lens4j.hook.HookRun;
import org.lens4j.hook.HookRunOptions;
import org.lens4j.internal.Args;
import org.lens4j.internal.Wire;

/**
 * Runs hooks on one model: the bodies of {@link Model}'s hook verbs. It encodes the hook values
 * ({@link HookWire}), calls the {@code hooks.*} ops, turns their results into the records of
 * {@code org.lens4j.hook}, and keeps the model's added {@link HookSet}s so that a reset can drop
 * the Java callbacks of the hooks it removed.
 */
final class HookRunner {
    private final Model model;
    private final Set<HookSet> added = Collections.newSetFromMap(new IdentityHashMap<>());

    HookRunner(Model model) {
        this.model = model;
    }

    Model model() {
        return model;
    }

    /** Check hooks against the model without running anything: the hook points they reach (unknown names fail here). */
    List<HookPoint> resolve(List<Hook> hooks) {
        try (HookWire wire = HookWire.of(model, hooks)) {
            return HookWire.points(call("hooks.resolve", Args.of("hooks", wire.specs()), wire));
        }
    }

    HookRun runWithHooks(Input input, HookRunOptions options, List<Hook> hooks) {
        Objects.requireNonNull(options, "options");
        Lens lens = model.lens();
        try (HookWire wire = HookWire.of(model, hooks)) {
            Args args = Args.of("input", Wire.input(input), "hooks", wire.specs(), "return_type", options.returnType().wire(),
                    "stop_at_layer", options.stopAtLayer(), "prepend_bos", options.prependBos(), "padding_side", options.paddingSide(),
                    "loss_per_token", options.lossPerToken() ? true : null);
            JsonNode v = call("hooks.run_with_hooks", args, wire);
            return new HookRun(HookWire.tensorOrNull(lens, v.get("logits")), HookWire.tensorOrNull(lens, v.get("loss")),
                    HookWire.captures(lens, v.get("captures")));
        }
    }

    // -- hooks that stay on ---------------------------------------------------------------------

    /** Attach hooks until the returned set is closed or a reset removes them. */
    HookSet add(boolean permanent, List<Hook> hooks) {
        if (hooks.isEmpty()) {
            throw new IllegalArgumentException("add needs at least one hook");
        }
        try (HookWire wire = HookWire.of(model, hooks)) {
            JsonNode v = call("hooks.add", Args.of("hooks", wire.specs(), "permanent", permanent), wire);
            HookSet set = new HookSet(this, v, wire.detachCallbacks());
            synchronized (added) {
                added.add(set);
            }
            return set;
        }
    }

    void forget(HookSet set) {
        synchronized (added) {
            added.remove(set);
        }
    }

    /** Remove added hooks (permanent ones too with {@code includingPermanent}) of one direction or both; how many. */
    int reset(boolean includingPermanent, Direction direction) {
        Objects.requireNonNull(direction, "direction");
        JsonNode v = call("hooks.reset", Args.of("including_permanent", includingPermanent, "direction", HookWire.direction(direction)),
                null);
        List<HookSet> affected = new ArrayList<>();
        synchronized (added) {
            for (HookSet s : added) {
                if (includingPermanent || !s.isPermanent()) {
                    affected.add(s);
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
    Map<String, Attached> attached() {
        JsonNode v = call("hooks.list", Args.of(), null);
        Map<String, Attached> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : v.properties()) {
            out.put(e.getKey(), new Attached(e.getValue().path("fwd").asInt(), e.getValue().path("bwd").asInt(),
                    e.getValue().path("permanent").asInt()));
        }
        return out;
    }

    // -- caches and gradients -------------------------------------------------------------------

    /** A cache taken while these hooks (and any added ones) are on: the intervened model's activations. */
    Run runWithCache(Input input, Names names, RunOptions options, List<Hook> hooks) {
        Objects.requireNonNull(options, "options");
        Lens lens = model.lens();
        try (HookWire wire = HookWire.of(model, hooks)) {
            Args args = Args.of("input", Wire.input(input), "hooks", wire.specs(), "names", cacheNames(names),
                    "return_type", options.returnType().wire(), "prepend_bos", options.prependBos(), "padding_side", options.paddingSide(),
                    "stop_at_layer", options.stopAtLayer(), "remove_batch_dim", options.removeBatchDim() ? true : null);
            JsonNode v = call("hooks.run_with_cache", args, wire);
            HookWire.captures(lens, v.get("captures")).close();
            return new Run(HookWire.tensorOrNull(lens, v.get("logits")), lossValue(lens, v.get("loss")),
                    new ActivationCache(lens, Objects.requireNonNull(v.get("cache"), "node")));
        }
    }

    /** A cache with gradients: forward with the hooks on, backward from {@code backward}; gradients only during this call. */
    GradientRun runWithGradients(Input input, Names names, Backward backward, List<Hook> hooks) {
        Objects.requireNonNull(backward, "backward");
        Lens lens = model.lens();
        try (HookWire wire = HookWire.of(model, hooks)) {
            Args args = Args.of("input", Wire.input(input), "hooks", wire.specs(), "names", cacheNames(names),
                    "incl_bwd", true, "backward_of", wire.backward(backward), "return_type", "both");
            JsonNode v = call("hooks.run_with_cache", args, wire);
            return new GradientRun(HookWire.tensorOrNull(lens, v.get("logits")), lossValue(lens, v.get("loss")), v.path("metric").asDouble(),
                    new ActivationCache(lens, Objects.requireNonNull(v.get("cache"), "node")), HookWire.captures(lens, v.get("captures")));
        }
    }

    private List<String> cacheNames(Names names) {
        Objects.requireNonNull(names, "names");
        return names.isAll() ? null : model.hookNames(names);
    }

    // -- generation -----------------------------------------------------------------------------

    /** Generate with the options' hooks on for every forward of the loop (added hooks fire too). */
    Generation generate(Input input, GenerateOptions options) {
        Objects.requireNonNull(options, "options");
        Lens lens = model.lens();
        try (HookWire wire = HookWire.of(model, options.hooks())) {
            Args args = Args.of("input", Wire.input(input), "hooks", wire.specs(), "max_new_tokens", options.maxNewTokens(),
                    "do_sample", options.doSample(), "top_k", options.topK(), "top_p", options.topP(), "temperature", options.temperature(),
                    "seed", options.seed(), "stop_at_eos", options.stopAtEos(), "return_logits", options.returnLogits(),
                    "prepend_bos", options.prependBos(), "use_past_kv_cache", options.useKvCache());
            JsonNode v = call("hooks.generate", args, wire);
            List<String> texts = new ArrayList<>();
            if (v.path("text").isArray()) {
                v.path("text").forEach(t -> texts.add(t.asText()));
            } else {
                texts.add(v.path("text").asText());
            }
            return new Generation(texts.get(0), List.copyOf(texts), HookWire.tensor(lens, v.get("tokens")),
                    HookWire.tensorOrNull(lens, v.get("logits")), HookWire.captures(lens, v.get("captures")));
        }
    }

    // -- helpers --------------------------------------------------------------------------------

    private JsonNode call(String op, Args args, HookWire wire) {
        return model.lens().call(op, args.put("model", model.ref()).map(), wire == null ? List.of() : wire.blobs(), null).value();
    }

    private static Double lossValue(Lens lens, JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        try (Tensor loss = HookWire.tensor(lens, node)) {
            return loss.numel() == 1 ? loss.item() : null;
        }
    }
}
