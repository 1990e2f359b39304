package org.lens4j;

import org.lens4j.engine.ErrorKind;

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
 * }
 * }</pre>
 */
public class LensException extends RuntimeException {
    private final ErrorKind kind;
    private final String pythonType;
    private final String pythonTraceback;

    public LensException(ErrorKind kind, String message, String pythonType, String pythonTraceback, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.pythonType = pythonType;
        this.pythonTraceback = pythonTraceback;
    }

    public LensException(ErrorKind kind, String message) {
        this(kind, message, null, null, null);
    }

    /** The exception of the right subclass for an error kind. */
    public static LensException of(ErrorKind kind, String message, String pythonType, String traceback, Throwable cause) {
        return switch (kind) {
            case BAD_ARGUMENT, UNKNOWN_OP, UNKNOWN_MODEL, UNKNOWN_HOOK, NOT_SINGLE_TOKEN, SHAPE_MISMATCH ->
                    new InvalidInputException(kind, message, pythonType, traceback);
            case CLOSED_HANDLE -> new HandleClosedException(message);
            case CALLBACK_FAILED -> new CallbackFailedException(message, cause);
            case ENGINE_DIED, ENGINE_START, TIMEOUT, INTERRUPTED -> new EngineException(kind, message, cause);
            case PYTHON_ERROR, MISSING_MODULE, OUT_OF_MEMORY -> new PythonException(kind, message, pythonType, traceback);
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
}
