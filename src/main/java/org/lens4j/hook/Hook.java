package org.lens4j.hook;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;
import org.lens4j.ActName;
import org.lens4j.ActivationCache;
import org.lens4j.Names;
import org.lens4j.Slice;
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
 * <p>What a hook holds is data ({@link #names()}, {@link #filter()}, {@link #selectedPositions()},
 * {@link #actions()}, ...): {@code Model} reads it to send the hook to the engine; a hook never
 * calls the engine itself.
 *
 * <pre>{@code
 * // seed 004: zero head 9 of layer 9 at the last position
 * Tensor ablated = model.runWithHooks(prompt, Hook.at(ActName.of("z", 9)).positions(-1).heads(9).zero());
 * // seed 000: patch the residual stream at one position from a clean run
 * ActivationCache clean = model.runWithCache(cleanPrompt).cache();
 * Tensor patched = model.runWithHooks(corruptPrompt, Hook.at("resid_pre", 3).positions(5).patchFrom(clean));
 * // steering: add a vector at every position of one layer
 * Tensor steered = model.runWithHooks(prompt, Hook.at("blocks.6.hook_resid_pre").add(direction, 4.0));
 * // a range of positions (org.lens4j.Slice, TransformerLens' utils.Slice)
 * Tensor zeroed = model.runWithHooks(prompt, Hook.at("blocks.0.hook_resid_pre").positions(Slice.range(1, 4)).zero());
 * // a filter, a Java lambda, a capture
 * HookRun run = model.runWithHooks(prompt, HookRunOptions.defaults(),
 *     Hook.at(Names.glob("blocks.*.attn.hook_pattern")).capture("pattern{layer}"));
 * }</pre>
 */
public final class Hook {
    private static final Slice ALL = Slice.all();

    private final List<String> names;
    private final Names filter;
    private final Direction direction;
    private final Slice batch;
    private final Slice positions;
    private final List<List<Integer>> positionsPerPrompt;
    private final Slice heads;
    private final List<Action> actions;

    /**
     * One action of a hook, as data: its type as {@code docs/hooks-spec.md} names it ({@code zero},
     * {@code mean}, {@code patch}, {@code resample}, {@code add}, {@code scale}, {@code set},
     * {@code capture}, {@code java}) and its parameters in order. A parameter's value is a number,
     * a string, a boolean, a {@link Tensor} or {@link ActivationCache} (sent as a reference), a
     * {@code float[]} (sent as an array), a {@code List<Long>} (a permutation) or a {@link JavaHook}.
     *
     * <pre>{@code
     * Hook.Action a = Hook.at("blocks.0.hook_resid_pre").scale(2.0).actions().get(0);
     * a.type();      // "scale"
     * a.params();    // {factor=2.0}
     * }</pre>
     *
     * @param type the action's type
     * @param params its parameters by name (unmodifiable, in order)
     */
    public record Action(String type, Map<String, Object> params) {
        public Action {
            Objects.requireNonNull(type, "type");
            params = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(params, "params")));
        }

        @Override
        public String toString() {
            if (params.isEmpty()) {
                return type;
            }
            StringBuilder sb = new StringBuilder(type).append('(');
            params.forEach((k, v) -> sb.append(sb.charAt(sb.length() - 1) == '(' ? "" : ", ").append(k).append('=').append(describe(v)));
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
            if (v instanceof JavaHook) {
                return "lambda";
            }
            return String.valueOf(v);
        }
    }

    private Hook(List<String> names, Names filter, Direction direction, Slice batch, Slice positions,
                 List<List<Integer>> positionsPerPrompt, Slice heads, List<Action> actions) {
        this.names = names;
        this.filter = filter;
        this.direction = direction;
        this.batch = batch;
        this.positions = positions;
        this.positionsPerPrompt = positionsPerPrompt;
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
        return new Hook(List.of(names), null, Direction.FORWARD, ALL, ALL, List.of(), ALL, List.of());
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
        return new Hook(List.of(), Objects.requireNonNull(filter, "filter"), Direction.FORWARD, ALL, ALL, List.of(), ALL, List.of());
    }

    /** The same hook in the backward pass: its actions see (and may edit) the gradient arriving at the point. */
    public Hook backward() {
        return new Hook(names, filter, Direction.BACKWARD, batch, positions, positionsPerPrompt, heads, actions);
    }

    // -- selectors --------------------------------------------------------------------------

    /** Only these prompts of the batch (negative counts from the end). */
    public Hook batch(int... indices) {
        return batch(Slice.indices(indices(indices, "batch")));
    }

    /** Only the prompts a slice selects; {@code Slice.at(i)} keeps the batch axis (one prompt, still [1, ...]). */
    public Hook batch(Slice slice) {
        return new Hook(names, filter, direction, Objects.requireNonNull(slice, "slice"), positions, positionsPerPrompt, heads, actions);
    }

    /** Only these positions (negative from the end: -1 is the last); the query position on attention patterns. */
    public Hook positions(int... indices) {
        return positions(Slice.indices(indices(indices, "positions")));
    }

    /** Only the positions a slice selects, e.g. {@code Slice.range(1, 4)}; replaces {@link #positionsPerPrompt}. */
    public Hook positions(Slice slice) {
        return new Hook(names, filter, direction, batch, Objects.requireNonNull(slice, "slice"), List.of(), heads, actions);
    }

    /**
     * Positions per prompt: {@code perPrompt[i]} are the positions of prompt i (or of the i-th
     * prompt named by {@link #batch(int...)}). The way to reach each prompt's own last token in
     * a padded batch of prompts of different lengths. Replaces {@link #positions}.
     */
    public Hook positionsPerPrompt(int[]... perPrompt) {
        Objects.requireNonNull(perPrompt, "perPrompt");
        if (perPrompt.length == 0) {
            throw new IllegalArgumentException("positionsPerPrompt needs one array of positions per prompt");
        }
        List<List<Integer>> copy = new ArrayList<>(perPrompt.length);
        for (int i = 0; i < perPrompt.length; i++) {
            copy.add(Arrays.stream(indices(perPrompt[i], "positionsPerPrompt[" + i + "]")).boxed().toList());
        }
        return new Hook(names, filter, direction, batch, ALL, List.copyOf(copy), heads, actions);
    }

    /** Only these heads (for q, k, v, z, result, pattern, attn_scores). */
    public Hook heads(int... indices) {
        return heads(Slice.indices(indices(indices, "heads")));
    }

    /** Only the heads a slice selects. */
    public Hook heads(Slice slice) {
        return new Hook(names, filter, direction, batch, positions, positionsPerPrompt, Objects.requireNonNull(slice, "slice"), actions);
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
        return new Hook(names, filter, direction, batch, positions, positionsPerPrompt, heads, more);
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
        return then("resample", "cache", Objects.requireNonNull(cache, "cache"), "perm", ids(perm));
    }

    /** Resample with a permutation of the cache's batch drawn by {@code torch.randperm} from a generator seeded with {@code seed}. */
    public Hook resampleFrom(ActivationCache cache, long seed) {
        return then("resample", "cache", Objects.requireNonNull(cache, "cache"), "seed", seed);
    }

    /** Resample from another hook point's entry. */
    public Hook resampleFrom(ActivationCache cache, String otherName, long[] perm) {
        Objects.requireNonNull(perm, "perm");
        return then("resample", "cache", Objects.requireNonNull(cache, "cache"), "name", Objects.requireNonNull(otherName, "otherName"),
                "perm", ids(perm));
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

    private static List<Long> ids(long[] perm) {
        return Arrays.stream(perm).boxed().toList();
    }

    // -- what it holds ------------------------------------------------------------------------

    /** The hook names given to {@link #at(String...)}; empty for a hook on a filter. */
    public List<String> names() {
        return names;
    }

    /** The filter given to {@link #at(Names)}; empty for a hook on names. */
    public Optional<Names> filter() {
        return Optional.ofNullable(filter);
    }

    /** {@link Direction#FORWARD}, or {@link Direction#BACKWARD} after {@link #backward()}. */
    public Direction direction() {
        return direction;
    }

    /** The prompts selected; {@link Slice#all()} when no batch selector was given. */
    public Slice selectedBatch() {
        return batch;
    }

    /** The positions selected; {@link Slice#all()} when none was given (or {@link #positionsPerPrompt} was). */
    public Slice selectedPositions() {
        return positions;
    }

    /** The positions of each prompt given to {@link #positionsPerPrompt}; empty when not used. */
    public List<List<Integer>> selectedPositionsPerPrompt() {
        return positionsPerPrompt;
    }

    /** The heads selected; {@link Slice#all()} when no head selector was given. */
    public Slice selectedHeads() {
        return heads;
    }

    /** The actions in order. */
    public List<Action> actions() {
        return actions;
    }

    private static String axis(Slice slice) {
        return switch (slice.kind()) {
            case ALL -> ":";
            case AT -> String.valueOf(slice.indices().get(0));
            case INDICES -> slice.indices().size() == 1 ? String.valueOf(slice.indices().get(0)) : slice.indices().toString();
            case RANGE -> (slice.start() == null ? "" : slice.start()) + ":" + (slice.stop() == null ? "" : slice.stop())
                    + (slice.step() == 1 ? "" : ":" + slice.step());
        };
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Hook[");
        sb.append(filter == null ? (names.size() == 1 ? names.get(0) : names.toString()) : filter.toString());
        if (direction == Direction.BACKWARD) {
            sb.append(" backward");
        }
        if (batch.kind() != Slice.Kind.ALL) {
            sb.append(" batch=").append(axis(batch));
        }
        if (!positionsPerPrompt.isEmpty()) {
            sb.append(" pos=").append(positionsPerPrompt);
        } else if (positions.kind() != Slice.Kind.ALL) {
            sb.append(" pos=").append(axis(positions));
        }
        if (heads.kind() != Slice.Kind.ALL) {
            sb.append(" head=").append(axis(heads));
        }
        return sb.append(": ").append(actions.stream().map(Action::toString).collect(Collectors.joining(", "))).append(']').toString();
    }
}
