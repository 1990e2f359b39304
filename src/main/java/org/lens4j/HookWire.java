package org.lens4j;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.lens4j.hook.Backward;
import org.lens4j.hook.Captures;
import org.lens4j.hook.Direction;
import org.lens4j.hook.Hook;
import org.lens4j.hook.HookPoint;
import org.lens4j.hook.JavaHook;
import org.lens4j.internal.Wire;

/**
 * One op call that carries hooks: the hook values encoded as the specs of docs/hooks-spec.md,
 * the arrays sent beside them, and the Java callbacks registered for them. Closing it
 * unregisters the callbacks, unless a {@link HookSet} took them over ({@link #detachCallbacks()}).
 * The hook values know nothing of the engine; this is where they meet it.
 */
final class HookWire implements AutoCloseable {
    private final Model model;
    private final List<Map<String, Object>> specs = new ArrayList<>();
    private final List<Blob> blobs = new ArrayList<>();
    private final Map<Direction, List<Long>> callbacks = new EnumMap<>(Direction.class);
    private final List<Long> metrics = new ArrayList<>();

    private HookWire(Model model) {
        this.model = model;
    }

    /** Encode {@code hooks} for {@code model}; on failure nothing stays registered. */
    static HookWire of(Model model, List<Hook> hooks) {
        HookWire wire = new HookWire(model);
        try {
            for (Hook h : hooks) {
                if (h == null) {
                    throw new IllegalArgumentException("a hook is null");
                }
                wire.specs.add(wire.spec(h));
            }
            return wire;
        } catch (RuntimeException e) {
            wire.close();
            throw e;
        }
    }

    List<Map<String, Object>> specs() {
        return specs;
    }

    List<Blob> blobs() {
        return blobs;
    }

    // -- hooks --------------------------------------------------------------------------------

    /** The hook spec of docs/hooks-spec.md, registering Java lambdas and sending Java arrays as blobs. */
    private Map<String, Object> spec(Hook hook) {
        if (hook.actions().isEmpty()) {
            throw new IllegalArgumentException("the hook " + hook + " has no action; add one: zero(), mean(), patchFrom(cache), "
                    + "resampleFrom(cache, perm), add(vector, coeff), scale(f), set(tensor), capture(key), java(fn)");
        }
        Map<String, Object> spec = new LinkedHashMap<>();
        Names filter = hook.filter().orElse(null);
        if (filter == null) {
            spec.put("names", hook.names());
        } else if (filter.explicitNames().isPresent()) {
            // Names.of(...) lists names on purpose: each must fire (a gated one is an error, not skipped).
            spec.put("names", model.hookNames(filter));
        } else {
            spec.put("matched", model.hookNames(filter));
        }
        spec.put("dir", direction(hook.direction()));
        Map<String, Object> select = new LinkedHashMap<>();
        putAxis(select, "batch", hook.selectedBatch());
        if (!hook.selectedPositionsPerPrompt().isEmpty()) {
            select.put("pos", hook.selectedPositionsPerPrompt());
        } else {
            putAxis(select, "pos", hook.selectedPositions());
        }
        putAxis(select, "head", hook.selectedHeads());
        if (!select.isEmpty()) {
            spec.put("select", select);
        }
        List<Map<String, Object>> actions = new ArrayList<>();
        for (Hook.Action a : hook.actions()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", a.type());
            a.params().forEach((k, v) -> {
                if (v instanceof JavaHook fn) {
                    m.put("id", register(fn, hook.direction()));
                } else {
                    m.put(k, value(v));
                }
            });
            actions.add(m);
        }
        spec.put("actions", actions);
        return spec;
    }

    /** A selector; an axis that selects everything is left out, which the Python side reads as all. */
    private static void putAxis(Map<String, Object> select, String key, Slice slice) {
        if (slice.kind() != Slice.Kind.ALL) {
            select.put(key, Wire.slice(slice));
        }
    }

    /** An action's parameter as it goes on the wire: handles as references, float arrays as blobs. */
    private Object value(Object v) {
        if (v instanceof Handle h) {
            return h.ref();
        }
        if (v instanceof float[] f) {
            ByteBuffer data = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            data.asFloatBuffer().put(f);
            blobs.add(new Blob("float32", new long[] {f.length}, data));
            return Map.of("$blob", blobs.size() - 1);
        }
        return v;
    }

    private long register(JavaHook fn, Direction direction) {
        Lens lens = model.lens();
        long id = lens.registerCallback((args, blobsIn) -> invoke(lens, fn, args));
        callbacks.computeIfAbsent(direction, d -> new ArrayList<>()).add(id);
        return id;
    }

    /** Run a Java hook for one callback: the activation's handle lives only for the call. */
    private static Object invoke(Lens lens, JavaHook fn, JsonNode args) throws Exception {
        Tensor activation = new Tensor(lens, args.get("activation"));
        try {
            JsonNode layer = args.path("layer");
            HookPoint point = new HookPoint(args.path("name").asText(), layer.canConvertToInt() ? layer.asInt() : null,
                    direction(args.path("dir").asText("fwd")));
            Tensor out = fn.apply(activation, point);
            return out == null ? null : out.ref();
        } finally {
            activation.close(); // Python frees it when the hook returns; a kept reference fails clearly
        }
    }

    // -- the scalar of a backward pass ----------------------------------------------------------

    /** The op's {@code backward_of} value; a Java metric is registered until this call closes. */
    Object backward(Backward backward) {
        return switch (backward.kind()) {
            case LOSS -> "loss";
            case LOGIT_DIFF -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("type", "logit_diff");
                m.put("good", ids(backward.good()));
                m.put("bad", ids(backward.bad()));
                m.put("pos", backward.position());
                yield m;
            }
            case LOGIT -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("type", "logit");
                m.put("tokens", ids(backward.good()));
                m.put("pos", backward.position());
                yield m;
            }
            case METRIC -> {
                Backward.Metric metric = backward.metric().orElseThrow();
                Lens lens = model.lens();
                long id = lens.registerCallback((args, blobsIn) -> {
                    Scope scope = lens.scope(); // frees the metric's intermediate tensors, which hold the autograd graph
                    try {
                        Tensor out = metric.apply(new Tensor(lens, args.get("logits")));
                        if (out == null) {
                            throw new IllegalStateException("the Java metric returned null; return a one-element tensor");
                        }
                        return out.ref(); // Python reads it before the scope's releases are sent
                    } finally {
                        scope.close();
                    }
                });
                metrics.add(id);
                yield Map.of("type", "java", "id", id);
            }
        };
    }

    private static Object ids(List<Integer> ids) {
        return ids.size() == 1 ? ids.get(0) : ids;
    }

    // -- results ------------------------------------------------------------------------------

    /** Hand the registered hook callbacks to a hook set, which unregisters them when its hooks go. */
    Map<Direction, List<Long>> detachCallbacks() {
        Map<Direction, List<Long>> out = new EnumMap<>(callbacks);
        callbacks.clear();
        return out;
    }

    @Override
    public void close() {
        Lens lens = model.lens();
        for (List<Long> ids : callbacks.values()) {
            ids.forEach(lens::unregisterCallback);
        }
        callbacks.clear();
        metrics.forEach(lens::unregisterCallback);
        metrics.clear();
    }

    static String direction(Direction direction) {
        return switch (direction) {
            case FORWARD -> "fwd";
            case BACKWARD -> "bwd";
            case BOTH -> "both";
        };
    }

    static Direction direction(String wire) {
        return switch (wire == null ? "fwd" : wire.toLowerCase(Locale.ROOT)) {
            case "bwd" -> Direction.BACKWARD;
            case "both" -> Direction.BOTH;
            default -> Direction.FORWARD;
        };
    }

    /** Hook points from {@code [{name, layer, dir}, ...]}. */
    static List<HookPoint> points(JsonNode array) {
        List<HookPoint> out = new ArrayList<>();
        array.forEach(h -> out.add(new HookPoint(h.path("name").asText(), h.path("layer").canConvertToInt() ? h.path("layer").asInt() : null,
                direction(h.path("dir").asText()))));
        return List.copyOf(out);
    }

    /** From an op's {@code captures} node: {key: tensor or [tensor, ...]}. */
    static Captures captures(Lens lens, JsonNode node) {
        Map<String, Tensor> single = new LinkedHashMap<>();
        Map<String, List<Tensor>> lists = new LinkedHashMap<>();
        if (node != null && node.isObject()) {
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                if (e.getValue().isArray()) {
                    List<Tensor> l = new ArrayList<>();
                    e.getValue().forEach(t -> l.add(tensor(lens, t)));
                    lists.put(e.getKey(), l);
                } else {
                    single.put(e.getKey(), tensor(lens, e.getValue()));
                }
            }
        }
        return Captures.of(single, lists);
    }

    /** A tensor handle from a result node; the same check as {@code Ops.tensor}. */
    static Tensor tensor(Lens lens, JsonNode node) {
        if (node == null || !node.has("$tensor")) {
            throw new IllegalArgumentException("not a tensor in the op's result: " + node);
        }
        return new Tensor(lens, node);
    }

    static Tensor tensorOrNull(Lens lens, JsonNode node) {
        return node == null || node.isNull() ? null : tensor(lens, node);
    }
}
