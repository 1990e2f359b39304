package org.lens4j.engine;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.lens4j.Blob;
import org.lens4j.ProgressListener;

/**
 * The seam between lens4j's Java API and a Python that runs the bridge ops.
 *
 * <p>Three engines implement it: the worker engine (a CPython process over a Unix socket,
 * the default), the embedded engine (the same CPython inside the JVM through JEP) and the
 * GraalPy engine (in-process). All run the same op table, so an op behaves the same on each. Calls on one engine are strictly nested: an op may call back
 * into Java ({@link CallbackHandler}), which may call again before answering.
 *
 * <pre>{@code
 * try (Engine engine = Engines.start(EngineOptions.defaults(), CallbackHandler.NONE)) {
 *     Reply info = engine.call("bridge.info", Map.of(), List.of(), null);
 *     System.out.println(info.value().get("torch").asText());
 * }
 * }</pre>
 */
public interface Engine extends AutoCloseable {

    /**
     * Run an op and wait for its result.
     *
     * @param op the op name, such as {@code "model.run_with_cache"}
     * @param args JSON-ready arguments (Jackson serializes them)
     * @param blobs arrays sent beside the arguments, referred to as {@code {"$blob": i}}
     * @param progress receives progress events of long ops; may be null
     * @return the result; its blobs belong to the caller and stay valid whatever calls follow
     * @throws org.lens4j.LensException or a subclass: the op failed, the input was bad, or the engine died
     */
    Reply call(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener progress);

    /**
     * Run an op and hand its result to {@code read} while its blobs may still be views of the
     * engine's reused transfer memory (the worker's shared arena, the embedded engine's result
     * buffer): the one-copy way to turn a large result into a Java array. {@code read} must copy
     * what it keeps and must not call the engine. Engines whose replies are always the caller's
     * need not override it.
     */
    default <T> T callAndRead(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener progress, Function<Reply, T> read) {
        return read.apply(call(op, args, blobs, progress));
    }

    /** Free handles in Python. Batched: sent with the next exchange, or at once if {@code now}. */
    void release(long[] handles, boolean now);

    /** Whether the engine can still take calls. */
    boolean isAlive();

    /** A short description: engine kind, Python version and where it runs. */
    String describe();

    /** Stop the engine and free everything it holds; idempotent. */
    @Override
    void close();
}
