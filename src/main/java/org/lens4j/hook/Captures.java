package org.lens4j.hook;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.lens4j.Tensor;

/**
 * What the {@link Hook#capture capture} actions of a run stored, by key: one tensor per key,
 * or for {@link Hook#captureEach captureEach} a list (one per generation step, or one per run
 * of an added hook). Each tensor is a copy of the selected region, taken after the actions
 * before the capture. Closing it closes every tensor.
 *
 * <pre>{@code
 * HookRun run = model.runWithHooks(prompt, HookRunOptions.defaults(),
 *     Hook.at(Names.glob("blocks.*.attn.hook_pattern")).capture("pattern{layer}"),
 *     Hook.at(ActName.of("z", 1)).positions(-1).heads(2).capture("z"));
 * Tensor pattern0 = run.captures().get("pattern0");       // [batch, head, q_pos, k_pos]
 * Tensor z = run.captures().get("z");                     // [batch, 1, 1, d_head]
 * }</pre>
 */
public final class Captures implements AutoCloseable {
    private final Map<String, Tensor> single;
    private final Map<String, List<Tensor>> lists;

    private Captures(Map<String, Tensor> single, Map<String, List<Tensor>> lists) {
        this.single = Collections.unmodifiableMap(single);
        this.lists = Collections.unmodifiableMap(lists);
    }

    /** Nothing captured. */
    public static Captures empty() {
        return new Captures(new LinkedHashMap<>(), new LinkedHashMap<>());
    }

    /**
     * Captures from what a run stored: single values by key ({@link Hook#capture}) and lists by key
     * ({@link Hook#captureEach}). The maps are copied; the tensors are owned by the result.
     */
    public static Captures of(Map<String, Tensor> single, Map<String, List<Tensor>> lists) {
        Map<String, List<Tensor>> l = new LinkedHashMap<>();
        Objects.requireNonNull(lists, "lists").forEach((k, v) -> l.put(k, List.copyOf(v)));
        return new Captures(new LinkedHashMap<>(Objects.requireNonNull(single, "single")), l);
    }

    /** The tensor stored under {@code key} by {@link Hook#capture}; an unknown key lists the stored ones. */
    public Tensor get(String key) {
        Tensor t = single.get(key);
        if (t == null) {
            throw new IllegalArgumentException("nothing was captured under '" + key + "'"
                    + (lists.containsKey(key) ? " as one value; it holds a list (captureEach): use list(key)" : "")
                    + "; keys: " + keys());
        }
        return t;
    }

    /** The tensors stored under {@code key} by {@link Hook#captureEach}, in order. */
    public List<Tensor> list(String key) {
        List<Tensor> l = lists.get(key);
        if (l == null) {
            if (single.containsKey(key)) {
                return List.of(single.get(key));
            }
            throw new IllegalArgumentException("nothing was captured under '" + key + "'; keys: " + keys());
        }
        return l;
    }

    public boolean contains(String key) {
        return single.containsKey(key) || lists.containsKey(key);
    }

    /** Every key, single values first. */
    public Set<String> keys() {
        Set<String> k = new java.util.LinkedHashSet<>(single.keySet());
        k.addAll(lists.keySet());
        return k;
    }

    /** The single values by key ({@link Hook#capture}), as a map. */
    public Map<String, Tensor> asMap() {
        return single;
    }

    /** The lists by key ({@link Hook#captureEach}). */
    public Map<String, List<Tensor>> lists() {
        return lists;
    }

    public boolean isEmpty() {
        return single.isEmpty() && lists.isEmpty();
    }

    @Override
    public void close() {
        single.values().forEach(Tensor::close);
        lists.values().forEach(l -> l.forEach(Tensor::close));
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Captures[");
        single.forEach((k, t) -> sb.append(sb.length() > 9 ? ", " : "").append(k).append(' ').append(java.util.Arrays.toString(t.shape())));
        lists.forEach((k, l) -> sb.append(sb.length() > 9 ? ", " : "").append(k).append(" x").append(l.size()));
        return sb.append(']').toString();
    }
}
