package org.lens4j;

import java.util.Map;

/**
 * Something went wrong in lens4j; {@link #kind()} says what. Subclasses group the kinds a
 * caller handles differently: {@link InvalidInputException} (fix the call),
 * {@link HandleClosedException}, {@link PythonException} (the op failed in Python),
 * {@link CallbackFailedException} (your Java hook or metric threw), and
 * {@link EngineException} (the engine died, timed out or could not start).
 *
 * <pre>{@code
 * try {
 *     model.toSingleToken(" John and Mary");
 * } catch (InvalidInputException e) {
 *     System.out.println(e.kind() + ": " + e.getMessage()); // NOT_SINGLE_TOKEN: ' John and Mary' is not a single token ...
 *     System.out.println(e.details());                      // {tokens=[' John', ' and', ' Mary']}
 * }
 * }</pre>
 *
 * <p>{@link #details()} carries what the message says as data, so that callers never parse
 * message text: {@code nearest} (the valid names closest to an unknown one), {@code valid} (what
 * is accepted), {@code shape} / {@code expected} (for shape mismatches), {@code argument} (the
 * argument at fault). Which keys are present depends on the error; the map is empty when the
 * error carries none.
 */
public class LensException extends RuntimeException {
    private final ErrorKind kind;
    private final String pythonType;
    private final String pythonTraceback;
    private final Map<String, Object> details;

    public LensException(ErrorKind kind, String message, String pythonType, String pythonTraceback, Throwable cause) {
        this(kind, message, pythonType, pythonTraceback, cause, Map.of());
    }

    /** With the error's structured {@code details} (JSON values: String, Long, Double, Boolean, List, Map). */
    public LensException(ErrorKind kind, String message, String pythonType, String pythonTraceback, Throwable cause,
            Map<String, ?> details) {
        super(message, cause);
        this.kind = kind;
        this.pythonType = pythonType;
        this.pythonTraceback = pythonTraceback;
        this.details = details == null ? Map.of() : Map.copyOf(details);
    }

    public LensException(ErrorKind kind, String message) {
        this(kind, message, null, null, null);
    }

    /** The exception of the right subclass for an error kind. */
    public static LensException of(ErrorKind kind, String message, String pythonType, String traceback, Throwable cause) {
        return of(kind, message, pythonType, traceback, cause, Map.of());
    }

    /** The exception of the right subclass for an error kind, with its structured {@code details}. */
    public static LensException of(ErrorKind kind, String message, String pythonType, String traceback, Throwable cause,
            Map<String, ?> details) {
        return switch (kind) {
            case BAD_ARGUMENT, UNKNOWN_OP, UNKNOWN_MODEL, UNKNOWN_HOOK, NOT_SINGLE_TOKEN, SHAPE_MISMATCH ->
                    new InvalidInputException(kind, message, pythonType, traceback, details);
            case CLOSED_HANDLE -> new HandleClosedException(message);
            case CALLBACK_FAILED -> new CallbackFailedException(message, cause);
            case ENGINE_DIED, ENGINE_START, TIMEOUT, INTERRUPTED -> new EngineException(kind, message, cause);
            case PYTHON_ERROR, MISSING_MODULE, OUT_OF_MEMORY -> new PythonException(kind, message, pythonType, traceback, details);
        };
    }

    public ErrorKind kind() {
        return kind;
    }

    /** The Python exception's type name, when the error came from Python. */
    public String pythonType() {
        return pythonType;
    }

    /** The Python traceback, when the error came from Python (for bug reports, not for users). */
    public String pythonTraceback() {
        return pythonTraceback;
    }

    /**
     * What the message says, as data: for example {@code nearest} (a list of the valid names
     * closest to an unknown one) or {@code shape}. Immutable; empty when the error carries none.
     */
    public Map<String, Object> details() {
        return details;
    }
}
