package org.lens4j;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.lens4j.internal.Args;

/**
 * A handle to TransformerLens' {@code ActivationCache}: the activations of one run, by hook
 * name. Entries come back as tensor handles that share the cache's memory.
 *
 * <pre>{@code
 * ActivationCache cache = model.runWithCache(prompt).cache();
 * Tensor pattern = cache.get("pattern", 0);             // cache["pattern", 0]
 * Tensor resid = cache.get("blocks.1.hook_resid_pre");  // by full name
 * Tensor last = cache.get("resid_post", -1);            // negative layers count from the end
 * System.out.println(cache);                            // a table of names and shapes
 * }</pre>
 */
public final class ActivationCache extends Handle {
    private final List<String> keys;

    ActivationCache(Lens lens, JsonNode node) {
        super(lens, node.get("$h").asLong());
        List<String> k = new ArrayList<>();
        node.path("keys").forEach(n -> k.add(n.asText()));
        this.keys = List.copyOf(k);
    }

    @Override
    String what() {
        return "activation cache";
    }

    /**
     * Releases the cache in Python now rather than with the next call: a cache is often most of the
     * worker's memory, and a user who closes one and then waits should see the worker shrink.
     */
    @Override
    public void close() {
        super.close();
        lens().sendReleasesNow();
    }

    /** The hook names this cache holds, in the order the run produced them. */
    public List<String> keys() {
        return keys;
    }

    public int size() {
        return keys.size();
    }

    public boolean contains(String name) {
        return keys.contains(name);
    }

    /** {@code cache[name]} by full hook name; an unknown name lists the nearest keys. */
    public Tensor get(String name) {
        return entry(Args.of("name", name));
    }

    /** {@code cache[shortName, layer]}, such as {@code get("pattern", 0)}; negative layers count from the end. */
    public Tensor get(String shortName, int layer) {
        return entry(Args.of("name", shortName, "layer", layer));
    }

    /** {@code cache[shortName, layer, layerType]}, such as {@code get("scale", 2, "ln1")}. */
    public Tensor get(String shortName, int layer, String layerType) {
        return entry(Args.of("name", shortName, "layer", layer, "layer_type", layerType));
    }

    private Tensor entry(Args args) {
        return new Tensor(lens(), lens().call("cache.get", args.put("cache", ref()).map(), List.of(), null).value());
    }

    /** One row per entry. */
    public record Entry(String name, long[] shape, String dtype, String device) {
        @Override
        public String toString() {
            return name + " " + Arrays.toString(shape) + " " + dtype;
        }
    }

    public List<Entry> summary() {
        List<Entry> out = new ArrayList<>();
        for (JsonNode e : lens().call("cache.summary", Map.of("cache", ref()), List.of(), null).value()) {
            long[] shape = new long[e.path("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = e.path("shape").get(i).asLong();
            }
            out.add(new Entry(e.path("name").asText(), shape, e.path("dtype").asText(), e.path("device").asText()));
        }
        return out;
    }

    @Override
    public String toString() {
        if (isClosed()) {
            return "ActivationCache[" + keys.size() + " entries] (closed)";
        }
        StringBuilder sb = new StringBuilder("ActivationCache[" + keys.size() + " entries]");
        List<Entry> entries = summary();
        int shown = Math.min(entries.size(), 24);
        for (int i = 0; i < shown; i++) {
            sb.append("\n  ").append(entries.get(i));
        }
        if (entries.size() > shown) {
            sb.append("\n  ... ").append(entries.size() - shown).append(" more");
        }
        return sb.toString();
    }
}
