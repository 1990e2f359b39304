package org.lens4j.hook;

import org.lens4j.internal.LensAccess;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.lens4j.Handle;
import org.lens4j.Lens;
import org.lens4j.Tensor;
import org.lens4j.engine.Blob;

/**
 * One op call that carries hooks: the specs, the arrays sent beside them, and the Java
 * callbacks registered for them. Closing it unregisters the callbacks, unless a
 * {@link HookSet} took them over ({@link #detachCallbacks()}).
 */
final class HookCall implements AutoCloseable {
    private final Lens lens;
    private final List<Map<String, Object>> specs = new ArrayList<>();
    private final List<Blob> blobs = new ArrayList<>();
    private final Map<Direction, List<Long>> callbacks = new EnumMap<>(Direction.class);

    private HookCall(Lens lens) {
        this.lens = lens;
    }

    /** Serialize {@code hooks} for {@code model}; on failure nothing stays registered. */
    static HookCall of(HookTarget model, Hook... hooks) {
        HookCall call = new HookCall(model.lens());
        try {
            for (Hook h : hooks) {
                if (h == null) {
                    throw new IllegalArgumentException("a hook is null");
                }
                call.specs.add(h.spec(model, call));
            }
            return call;
        } catch (RuntimeException e) {
            call.close();
            throw e;
        }
    }

    static HookCall of(HookTarget model, List<Hook> hooks) {
        return of(model, hooks.toArray(Hook[]::new));
    }

    List<Map<String, Object>> specs() {
        return specs;
    }

    List<Blob> blobs() {
        return blobs;
    }

    boolean isEmpty() {
        return specs.isEmpty();
    }

    /** An action's field as it goes on the wire: handles as references, Java arrays as blobs. */
    Object value(Object v) {
        if (v instanceof Handle h) {
            return h.ref();
        }
        if (v instanceof float[] f) {
            ByteBuffer data = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            data.asFloatBuffer().put(f);
            blobs.add(new Blob("float32", new long[] {f.length}, data));
            return Map.of("$blob", blobs.size() - 1);
        }
        if (v instanceof long[] l) {
            List<Long> out = new ArrayList<>(l.length);
            for (long x : l) {
                out.add(x);
            }
            return out;
        }
        return v;
    }

    long register(JavaHook fn, Direction direction) {
        long id = LensAccess.ops(lens).register((args, blobsIn) -> invoke(lens, fn, args));
        callbacks.computeIfAbsent(direction, d -> new ArrayList<>()).add(id);
        return id;
    }

    /** Run a Java hook for one callback: the activation's handle lives only for the call. */
    static Object invoke(Lens lens, JavaHook fn, JsonNode args) throws Exception {
        Tensor activation = LensAccess.ops(lens).tensor(args.get("activation"));
        try {
            JsonNode layer = args.path("layer");
            HookPoint point = new HookPoint(args.path("name").asText(), layer.canConvertToInt() ? layer.asInt() : null,
                    Direction.fromWire(args.path("dir").asText("fwd")));
            Tensor out = fn.apply(activation, point);
            return out == null ? null : out.ref();
        } finally {
            activation.close(); // Python frees it when the hook returns; a kept reference fails clearly
        }
    }

    /** Hand the registered callbacks to a hook set, which unregisters them when its hooks go. */
    Map<Direction, List<Long>> detachCallbacks() {
        Map<Direction, List<Long>> out = new EnumMap<>(callbacks);
        callbacks.clear();
        return out;
    }

    @Override
    public void close() {
        for (List<Long> ids : callbacks.values()) {
            for (long id : ids) {
                LensAccess.ops(lens).unregister(id);
            }
        }
        callbacks.clear();
    }
}
