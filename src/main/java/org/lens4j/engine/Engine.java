package org.lens4j.engine;

import java.util.List;
import java.util.Map;
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
     * @throws org.lens4j.LensException or a subclass: the op failed, the input was bad, or the engine died
     */
    Reply call(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener progress);

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
