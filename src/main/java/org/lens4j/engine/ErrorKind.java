package org.lens4j.engine;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;
import org.lens4j.LensException;

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

    /**
     * The exception for an op's error as every engine receives it ({@code kind}, {@code message},
     * {@code type}, {@code traceback}). A {@code callback_failed} error carries the Java exception
     * that the hook threw ({@code callbackFailure}, when the engine kept one) as its cause.
     */
    public static LensException toException(String op, JsonNode error, Throwable callbackFailure) {
        ErrorKind kind = fromWire(error.path("kind").asText(null));
        String message = error.path("message").asText("(no message)");
        Throwable cause = null;
        if (kind == CALLBACK_FAILED && callbackFailure != null) {
            cause = callbackFailure;
            message = op + ": " + cause;
        }
        return LensException.of(kind, message, error.path("type").asText(null), error.path("traceback").asText(null), cause);
    }
}
