package org.lens4j;

/**
 * Receives progress of long ops (patching sweeps, ablations, batches).
 *
 * <pre>{@code
 * ProgressListener log = (done, total, message) -> System.out.printf("%d/%d %s%n", done, total, message);
 * }</pre>
 */
@FunctionalInterface
public interface ProgressListener {
    void onProgress(long done, long total, String message);

    /** Ignores all events. */
    ProgressListener NONE = (done, total, message) -> { };
}
