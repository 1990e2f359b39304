package org.lens4j;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.lens4j.engine.Blob;
import org.lens4j.engine.Reply;

/**
 * The low-level door to every Python op, for lens4j's own packages and for anything the
 * typed API does not cover yet: call an op by name and turn the handles in its result
 * into Java objects.
 *
 * <pre>{@code
 * Ops ops = lens.ops();
 * Reply r = ops.call("model.hook_names", Map.of("model", model.ref()));
 * Tensor scores = ops.tensor(ops.call("analysis.detect_head", Map.of("model", model.ref(), "input", prompt,
 *         "pattern", "induction_head")).value());
 * }</pre>
 */
public final class Ops {
    private final Lens lens;

    Ops(Lens lens) {
        this.lens = lens;
    }

    public Reply call(String op, Map<String, ?> args) {
        return lens.call(op, args, List.of(), null);
    }

    public Reply call(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener progress) {
        return lens.call(op, args, blobs, progress);
    }

    /**
     * A model input as an op argument: a prompt ({@code String}) or prompts ({@code List<String>})
     * as they are, tokens ({@link Tensor}) as a handle reference; anything else is refused.
     */
    public Object input(Object input) {
        return Model.input(input);
    }

    /** A tensor handle from a result node {@code {"$tensor": id, "shape": .., "dtype": .., "device": ..}}. */
    public Tensor tensor(JsonNode node) {
        if (node == null || !node.has("$tensor")) {
            throw new IllegalArgumentException("not a tensor in the op's result: " + node);
        }
        return new Tensor(lens, node);
    }

    /** A handle of another kind from {@code {"$h": id, "type": ...}}. */
    public PyObject object(JsonNode node) {
        if (node == null || !node.has("$h")) {
            throw new IllegalArgumentException("not a handle in the op's result: " + node);
        }
        return new PyObject(lens, node.get("$h").asLong(), node.path("type").asText("object"));
    }

    /** An activation cache from {@code {"$h": id, "type": "cache", "keys": [...]}}. */
    public ActivationCache cache(JsonNode node) {
        Objects.requireNonNull(node, "node");
        return new ActivationCache(lens, node);
    }

    /** Register Java code that Python ops call back by {@code id}; returns the id. */
    public long register(Callback callback) {
        return lens.registerCallback(callback);
    }

    public void unregister(long id) {
        lens.unregisterCallback(id);
    }

    /** Register Java code that Python ops call back by name (for callbacks without an id). */
    public void registerNamed(String name, Callback callback) {
        lens.registerNamedCallback(name, callback);
    }

    /** Java code run by a Python op: gets the callback's arguments, returns a JSON-ready value or a {@link Handle#ref()}. */
    @FunctionalInterface
    public interface Callback {
        Object call(JsonNode args, List<Blob> blobs) throws Exception;
    }
}
