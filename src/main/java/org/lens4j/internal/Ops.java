package org.lens4j.internal;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.lens4j.ActivationCache;
import org.lens4j.Blob;
import org.lens4j.Handle;
import org.lens4j.Input;
import org.lens4j.Lens;
import org.lens4j.ProgressListener;
import org.lens4j.Tensor;
import org.lens4j.engine.Reply;

/**
 * Every Python op by name on one {@link Lens}, and the conversion of the handles in its result
 * into Java objects: the plumbing under the typed API. Get one through {@link LensAccess#ops}.
 * Not API (see {@link LensAccess}).
 *
 * <pre>{@code
 * Ops ops = LensAccess.ops(model.lens());
 * Reply r = ops.call("model.hook_names", Map.of("model", model.ref()));
 * }</pre>
 */
public final class Ops {
    private final LensAccess.Door door;
    private final Lens lens;

    Ops(LensAccess.Door door, Lens lens) {
        this.door = door;
        this.lens = lens;
    }

    public Reply call(String op, Map<String, ?> args) {
        return door.call(lens, op, args, List.of(), null);
    }

    public Reply call(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener progress) {
        return door.call(lens, op, args, blobs, progress);
    }

    /** A tensor handle from a result node {@code {"$tensor": id, "shape": .., "dtype": .., "device": ..}}. */
    public Tensor tensor(JsonNode node) {
        if (node == null || !node.has("$tensor")) {
            throw new IllegalArgumentException("not a tensor in the op's result: " + node);
        }
        return door.tensor(lens, node);
    }

    /** A handle of another kind from {@code {"$h": id, "type": ...}}. */
    public Handle object(JsonNode node) {
        if (node == null || !node.has("$h")) {
            throw new IllegalArgumentException("not a handle in the op's result: " + node);
        }
        return door.object(lens, node.get("$h").asLong(), node.path("type").asText("object"));
    }

    /** An activation cache from {@code {"$h": id, "type": "cache", "keys": [...]}}. */
    public ActivationCache cache(JsonNode node) {
        Objects.requireNonNull(node, "node");
        return door.cache(lens, node);
    }

    /** Register Java code that Python ops call back by {@code id}; returns the id. */
    public long register(Callback callback) {
        return door.register(lens, callback);
    }

    public void unregister(long id) {
        door.unregister(lens, id);
    }

    /** Register Java code that Python ops call back by name (for callbacks without an id). */
    public void registerNamed(String name, Callback callback) {
        door.registerNamed(lens, name, callback);
    }

    /** Java code run by a Python op: gets the callback's arguments, returns a JSON-ready value or a {@link Handle#ref()}. */
    @FunctionalInterface
    public interface Callback {
        Object call(JsonNode args, List<Blob> blobs) throws Exception;
    }
}
