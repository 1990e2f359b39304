package org.lens4j;

import java.util.Locale;

/**
 * What went wrong, as {@link LensException#kind()} reports it: the kinds the Python side raises
 * (named as in {@code lens4j_bridge/errors.py}) and the engine's own.
 *
 * <pre>{@code
 * try { model.toSingleToken(" John and Mary"); }
 * catch (LensException e) { if (e.kind() == ErrorKind.NOT_SINGLE_TOKEN) { ... } }
 * }</pre>
 */
public enum ErrorKind {
    BAD_ARGUMENT,
    UNKNOWN_OP,
    CLOSED_HANDLE,
    UNKNOWN_MODEL,
    UNKNOWN_HOOK,
    NOT_SINGLE_TOKEN,
    SHAPE_MISMATCH,
    OUT_OF_MEMORY,
    CALLBACK_FAILED,
    MISSING_MODULE,
    PYTHON_ERROR,
    /** The engine stopped: a crash, a kill, a timeout or an interrupt. */
    ENGINE_DIED,
    /** The engine could not be started. */
    ENGINE_START,
    TIMEOUT,
    INTERRUPTED;

    /** The kind a wire name ({@code "unknown_hook"}) stands for; an unknown name is {@link #PYTHON_ERROR}. */
    public static ErrorKind fromWire(String kind) {
        if (kind == null) {
            return PYTHON_ERROR;
        }
        try {
            return valueOf(kind.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return PYTHON_ERROR;
        }
    }
}
