package org.lens4j.engine;

import java.util.Locale;

/** The kinds of error that the Python side reports, as named in lens4j_bridge/errors.py. */
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
