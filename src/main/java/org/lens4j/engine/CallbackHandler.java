package org.lens4j.engine;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.lens4j.Blob;

/**
 * Java code that Python calls while an op is running: Java hooks, Java metrics.
 *
 * <p>The handler runs on the thread that made the outer call, and may itself make calls on
 * the same engine (they nest). On the worker engine, calls from other threads that name a
 * handle made during the callback nest too; other threads' calls wait for the outer call. It returns a JSON-ready value: null, a number, a string, a
 * {@code Map}/{@code List}, or a handle reference such as {@code Map.of("$h", id)}.
 */
@FunctionalInterface
public interface CallbackHandler {

    Object onCallback(String name, JsonNode args, List<Blob> blobs) throws Exception;

    /** A handler for engines whose ops never call back. */
    CallbackHandler NONE = (name, args, blobs) -> {
        throw new UnsupportedOperationException("no Java callback named '" + name + "' is registered");
    };
}
