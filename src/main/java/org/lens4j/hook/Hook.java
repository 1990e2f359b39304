package org.lens4j.hook;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.lens4j.ActName;
import org.lens4j.ActivationCache;
import org.lens4j.Handle;
import org.lens4j.Names;
import org.lens4j.Tensor;

/**
 * A hook point (a hook name, several, or a filter over the model's hook names) paired with
 * actions that run there, in order, on every activation that passes. Declarative actions
 * ({@link #zero}, {@link #mean}, {@link #patchFrom}, {@link #resampleFrom}, {@link #add},
 * {@link #scale}, {@link #set}, {@link #capture}) run inside Python with no round trip to
 * Java: they cost what the same hand-written TransformerLens hook costs. {@link #java} runs a
 * Java lambda through a callback.
 *
 * <p>Selectors ({@link #batch}, {@link #positions}, {@link #heads}) restrict every action of
 * the hook to part of the activation, wherever they appear in the chain. Positions count
 * from the end when negative; on {@code attn.hook_pattern} / {@code hook_attn_scores} they
 * select the query position. Heads apply to {@code attn.hook_q/k/v/z/result},
 * {@code hook_pattern} and {@code hook_attn_scores}.
 *
 * <p>A Hook is immutable: every method returns a new one, so a base hook can be shared.
 * Hook names are checked against the model before anything runs; an unknown name fails
 * with an {@link org.lens4j.InvalidInputException} that lists the nearest valid names.
 *
 * <pre>{@code
 * // seed 004: zero head 9 of layer 9 at the last position
 * Tensor ablated = model.runWithHooks(prompt, Hook.at(ActName.of("z", 9)).positions(-1).heads(9).zero());
 * // seed 000: patch the residual stream at one position from a clean run
 * ActivationCache clean = model.runWithCache(cleanPrompt).cache();
 * Tensor patched = model.runWithHooks(corruptPrompt, Hook.at("resid_pre", 3).positions(5).patchFrom(clean));
 * // steering: add a vector at every position of one layer
 * Tensor steered = model.runWithHooks(prompt, Hook.at("blocks.6.hook_resid_pre").add(direction, 4.0));
 * // a filter, a Java lambda, a capture
 * HookRun run = model.runWithHooks(prompt, HookRunOptions.defaults(),
 *     Hook.at(Names.glob("blocks.*.attn.hook_pattern")).capture("pattern{layer}"));
 * }</pre>
 */
public final class Hook {
    private final List<String> names;
    private final Names filter;
    private final Direction direction;
    private final Object batch;
    private final Object positions;
    private final Object heads;
    private final List<Action> actions;

    /** One action: its wire type and fields; values may be handles, float arrays or a JavaHook, converted when sent. */
    record Action(String type, Map<String, Object> fields) {
        @Override
        public String toString() {
            if (fields.isEmpty()) {
                return type;
            }
            StringBuilder sb = new StringBuilder(type).append('(');
            fields.forEach((k, v) -> sb.append(sb.charAt(sb.length() - 1) == '(' ? "" : ", ").append(k).append('=').append(describe(v)));
            return sb.append(')').toString();
        }

        private static String describe(Object v) {
            if (v instanceof Tensor t) {
                return "tensor" + Arrays.toString(t.shape());
            }
            if (v instanceof ActivationCache) {
                return "cache";
            }
            if (v instanceof float[] f) {
                return "float[" + f.length + "]";
            }
            if (v instanceof long[] l) {
                return Arrays.toString(l);
            }
            if (v instanceof JavaHook) {
                return "lambda";
            }
            return String.valueOf(v);
        }
    }

    private Hook(List<String> names, Names filter, Direction direction, Object batch, Object positions, Object heads,
                 List<Action> actions) {
        this.names = names;
        this.filter = filter;
        this.direction = direction;
        this.batch = batch;
        this.positions = positions;
        this.heads = heads;
        this.actions = List.copyOf(actions);
    }

    // -- where ------------------------------------------------------------------------------

    /** A hook on one full hook name, such as {@code blocks.0.attn.hook_pattern} or {@code ActName.of("z", 9)}. */
    public static Hook at(String name) {
        return at(new String[] {name});
    }

    /** A hook on a short name at a layer: {@code at("resid_pre", 3)} is {@code blocks.3.hook_resid_pre}. */
    public static Hook at(String shortName, int layer) {
        return at(ActName.of(shortName, layer));
    }

    /** A hook on several full hook names; the same actions run at each. */
    public static Hook at(String... names) {
        Objects.requireNonNull(names, "names");
        if (names.length == 0) {
            throw new IllegalArgumentException("Hook.at needs at least one hook name, e.g. Hook.at(\"blocks.0.hook_resid_pre\")");
        }
        for (String n : names) {
            if (n == null || n.isBlank()) {
                throw new IllegalArgumentException("a hook name is null or blank in " + Arrays.toString(names));
            }
        }
        return new Hook(List.of(names), null, Direction.FORWARD, null, null, null, List.of());
    }

    /** A hook on a list of full hook names. */
    public static Hook at(List<String> names) {
        return at(names.toArray(String[]::new));
    }

    /**
     * A hook on every hook name a filter selects: {@code Names.glob("blocks.*.attn.hook_pattern")},
     * {@code Names.matching(n -> n.endsWith("hook_z"))}, {@code Names.only("pattern")}. The filter is
     * resolved in Java over {@code Model.hookNames()}; like TransformerLens' name filters it skips hook
     * points that never fire with the model's settings ({@code attn.hook_result} while
     * {@code use_attn_result} is off), and hooks each point once even when several aliases match.
     */
    public static Hook at(Names filter) {
        return new Hook(null, Objects.requireNonNull(filter, "filter"), Direction.FORWARD, null, null, null, List.of());
    }

    /** The same hook in the backward pass: its actions see (and may edit) the gradient arriving at the point. */
    public Hook backward() {
        return new Hook(names, filter, Direction.BACKWARD, batch, positions, heads, actions);
    }

    public Direction direction() {
        return direction;
    }

    // -- selectors --------------------------------------------------------------------------

    /** Only these prompts of the batch (negative counts from the end). */
    public Hook batch(int... indices) {
        return new Hook(names, filter, direction, indices(indices, "batch"), positions, heads, actions);
    }

    public Hook batch(Slice range) {
        return new Hook(names, filter, direction, Objects.requireNonNull(range, "range"), positions, heads, actions);
    }

    /** Only these positions (negative from the end: -1 is the last); the query position on attention patterns. */
    public Hook positions(int... indices) {
        return new Hook(names, filter, direction, batch, indices(indices, "positions"), heads, actions);
    }

    public Hook positions(Slice range) {
        return new Hook(names, filter, direction, batch, Objects.requireNonNull(range, "range"), heads, actions);
    }

    /**
     * Positions per prompt: {@code perPrompt[i]} are the positions of prompt i (or of the i-th
     * prompt named by {@link #batch(int...)}). The way to reach each prompt's own last token in
     * a padded batch of prompts of different lengths.
     */
    public Hook positionsPerPrompt(int[]... perPrompt) {
        Objects.requireNonNull(perPrompt, "perPrompt");
        if (perPrompt.length == 0) {
            throw new IllegalArgumentException("positionsPerPrompt needs one array of positions per prompt");
        }
        int[][] copy = new int[perPrompt.length][];
        for (int i = 0; i < perPrompt.length; i++) {
            copy[i] = indices(perPrompt[i], "positionsPerPrompt[" + i + "]");
        }
        return new Hook(names, filter, direction, batch, copy, heads, actions);
    }

    /** Only these heads (for q, k, v, z, result, pattern, attn_scores). */
    public Hook heads(int... indices) {
        return new Hook(names, filter, direction, batch, positions, indices(indices, "heads"), actions);
    }

    public Hook heads(Slice range) {
        return new Hook(names, filter, direction, batch, positions, Objects.requireNonNull(range, "range"), actions);
    }

    private static int[] indices(int[] values, String what) {
        if (values == null || values.length == 0) {
            throw new IllegalArgumentException(what + " needs at least one index; leave the selector out to select everything");
        }
        return values.clone();
    }

    // -- actions ----------------------------------------------------------------------------

    private Hook then(String type, Object... keysAndValues) {
        Map<String, Object> fields = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            if (keysAndValues[i + 1] != null) {
                fields.put((String) keysAndValues[i], keysAndValues[i + 1]);
            }
        }
        List<Action> more = new ArrayList<>(actions);
        more.add(new Action(type, fields));
        return new Hook(names, filter, direction, batch, positions, heads, more);
    }

    /** Set the selected region to zero (zero ablation). */
    public Hook zero() {
        return then("zero");
    }

    /** Set the selected region to the activation's mean over the batch (dimension 0). */
    public Hook mean() {
        return mean(0);
    }

    /** Set the selected region to the activation's mean over {@code dim}, broadcast back. */
    public Hook mean(int dim) {
        return then("mean", "dim", dim);
    }

    /** Set the selected region to a precomputed mean (or any tensor that fits: full shape, broadcastable, or region-shaped). */
    public Hook meanFrom(Tensor source) {
        return then("mean", "source", Objects.requireNonNull(source, "source"));
    }

    /** Mean ablation over a reference run: the selected region becomes the mean over {@code dim} of this point's cache entry. */
    public Hook meanFrom(ActivationCache cache, int dim) {
        return then("mean", "dim", dim, "cache", Objects.requireNonNull(cache, "cache"));
    }

    /** Mean over {@code dim} of another hook point's cache entry. */
    public Hook meanFrom(ActivationCache cache, String otherName, int dim) {
        return then("mean", "dim", dim, "cache", Objects.requireNonNull(cache, "cache"), "name", Objects.requireNonNull(otherName, "otherName"));
    }

    /** Activation patching: the selected region becomes this hook point's entry of {@code cache} (any alias of it). */
    public Hook patchFrom(ActivationCache cache) {
        return then("patch", "cache", Objects.requireNonNull(cache, "cache"));
    }

    /** Patch from another hook point's entry, e.g. {@code blocks.3.hook_resid_pre} from a cached {@code blocks.2.hook_resid_pre}. */
    public Hook patchFrom(ActivationCache cache, String otherName) {
        return then("patch", "cache", Objects.requireNonNull(cache, "cache"), "name", Objects.requireNonNull(otherName, "otherName"));
    }

    /** Resample ablation: the region becomes {@code cache[name][perm]}; {@code perm} indexes the cache's batch (repeats allowed). */
    public Hook resampleFrom(ActivationCache cache, long[] perm) {
        Objects.requireNonNull(perm, "perm");
        if (perm.length == 0) {
            throw new IllegalArgumentException("perm needs one prompt index of the cache per prompt of the batch");
        }
        return then("resample", "cache", Objects.requireNonNull(cache, "cache"), "perm", perm.clone());
    }

    /** Resample with a permutation of the cache's batch drawn by {@code torch.randperm} from a generator seeded with {@code seed}. */
    public Hook resampleFrom(ActivationCache cache, long seed) {
        return then("resample", "cache", Objects.requireNonNull(cache, "cache"), "seed", seed);
    }

    /** Resample from another hook point's entry. */
    public Hook resampleFrom(ActivationCache cache, String otherName, long[] perm) {
        Objects.requireNonNull(perm, "perm");
        return then("resample", "cache", Objects.requireNonNull(cache, "cache"), "name", Objects.requireNonNull(otherName, "otherName"),
                "perm", perm.clone());
    }

    /** Add {@code coeff * vector} (a steering vector: [d_model] broadcasts over batch and positions). */
    public Hook add(Tensor vector, double coeff) {
        return then("add", "vector", Objects.requireNonNull(vector, "vector"), "coeff", coeff);
    }

    public Hook add(Tensor vector) {
        return add(vector, 1.0);
    }

    /** Add {@code coeff * vector} for a vector held in Java (sent with the hook, no handle needed). */
    public Hook add(float[] vector, double coeff) {
        return then("add", "vector", Objects.requireNonNull(vector, "vector").clone(), "coeff", coeff);
    }

    /** Multiply the selected region by {@code factor}. */
    public Hook scale(double factor) {
        if (!Double.isFinite(factor)) {
            throw new IllegalArgumentException("scale factor must be finite, got " + factor);
        }
        return then("scale", "factor", factor);
    }

    /** Set the selected region to {@code value}: the activation's full shape, broadcastable to it, or the region's shape. */
    public Hook set(Tensor value) {
        return then("set", "value", Objects.requireNonNull(value, "value"));
    }

    /** Store a copy of the selected region (after the actions before this one) under the hook's name. */
    public Hook capture() {
        return then("capture");
    }

    /**
     * Store a copy of the selected region under {@code key}; {@code {name}} and {@code {layer}} in the
     * key are replaced, so one filter hook can capture every layer ({@code "pattern{layer}"}).
     * A key stored twice keeps the last value.
     */
    public Hook capture(String key) {
        return then("capture", "key", Objects.requireNonNull(key, "key"));
    }

    /** Store every value under {@code key} as a list: one per generation step, or one per run of an added hook. */
    public Hook captureEach(String key) {
        return then("capture", "key", Objects.requireNonNull(key, "key"), "append", true);
    }

    /** Run Java code on the selected region (see {@link JavaHook}): one round trip per call. */
    public Hook java(JavaHook fn) {
        return then("java", "fn", Objects.requireNonNull(fn, "fn"));
    }

    /** The actions in order, for display. */
    public List<String> actions() {
        return actions.stream().map(Action::toString).toList();
    }

    // -- the wire form ------------------------------------------------------------------------

    /** The hook spec of docs/hooks-spec.md for this model, registering Java lambdas and blobs with {@code call}. */
    Map<String, Object> spec(HookTarget model, HookCall call) {
        if (actions.isEmpty()) {
            throw new IllegalArgumentException("the hook " + this + " has no action; add one: zero(), mean(), patchFrom(cache), "
                    + "resampleFrom(cache, perm), add(vector, coeff), scale(f), set(tensor), capture(key), java(fn)");
        }
        Map<String, Object> spec = new LinkedHashMap<>();
        if (names != null) {
            spec.put("names", names);
        } else if (filter.explicitNames().isPresent()) {
            // Names.of(...) lists names on purpose: each must fire (a gated one is an error, not skipped).
            spec.put("names", model.hookNames(filter));
        } else {
            spec.put("matched", model.hookNames(filter));
        }
        spec.put("dir", direction.wire());
        Map<String, Object> select = new LinkedHashMap<>();
        putAxis(select, "batch", batch);
        putAxis(select, "pos", positions);
        putAxis(select, "head", heads);
        if (!select.isEmpty()) {
            spec.put("select", select);
        }
        List<Map<String, Object>> wire = new ArrayList<>();
        for (Action a : actions) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", a.type());
            a.fields().forEach((k, v) -> {
                if (v instanceof JavaHook fn) {
                    m.put("id", call.register(fn, direction));
                } else {
                    m.put(k, call.value(v));
                }
            });
            wire.add(m);
        }
        spec.put("actions", wire);
        return spec;
    }

    private static void putAxis(Map<String, Object> select, String key, Object value) {
        if (value == null) {
            return;
        }
        if (value instanceof Slice s) {
            select.put(key, s.wire());
        } else if (value instanceof int[][] perPrompt) {
            select.put(key, Arrays.stream(perPrompt).map(p -> Arrays.stream(p).boxed().toList()).toList());
        } else {
            select.put(key, Arrays.stream((int[]) value).boxed().toList());
        }
    }

    private static String axis(Object value) {
        if (value instanceof int[] a) {
            return a.length == 1 ? String.valueOf(a[0]) : Arrays.toString(a);
        }
        if (value instanceof int[][] pp) {
            return Arrays.deepToString(pp);
        }
        return String.valueOf(value);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Hook[");
        sb.append(names != null ? (names.size() == 1 ? names.get(0) : names.toString()) : filter.toString());
        if (direction == Direction.BACKWARD) {
            sb.append(" backward");
        }
        if (batch != null) {
            sb.append(" batch=").append(axis(batch));
        }
        if (positions != null) {
            sb.append(" pos=").append(axis(positions));
        }
        if (heads != null) {
            sb.append(" head=").append(axis(heads));
        }
        return sb.append(": ").append(String.join(", ", actions())).append(']').toString();
    }
}
