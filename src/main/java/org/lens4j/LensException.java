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
 *     System.out.println(e.details().get("tokens"));        // [ John,  and,  Mary]
 * }
 * }</pre>
 *
 * <p>{@link #details()} carries what the message says as data, so that callers never parse
 * message text. One small vocabulary, the same for every op (Python's {@code errors.LensError}
 * documents the same keys); which keys are present depends on the error, and the map is empty
 * when the error carries none:
 * <ul>
 *   <li>{@code nearest}: the valid names closest to an unknown one (hook name, cache key, op,
 *       metric type, head pattern, ...), best first: a {@code List<String>}.</li>
 *   <li>{@code valid}: what is accepted: a {@code List} of the valid values when it is short, or
 *       for an integer range (layers, heads, positions, token ids) a {@code Map} with
 *       {@code min} and {@code max}, both inclusive ({@code {min=-2, max=1}}).</li>
 *   <li>{@code argument}: the name of the argument (or spec field) at fault, a {@code String}.</li>
 *   <li>{@code got}: the value received (as sent; a Python object that JSON cannot hold as its repr).</li>
 *   <li>{@code shape}: the shape received, a {@code List<Long>}; where two tensors disagree and
 *       neither is the one at fault (a broadcast), the list of both shapes.</li>
 *   <li>{@code expected}: the shape that was needed, a {@code List} with {@code null} for a size
 *       that may be anything ({@code [3, null]}).</li>
 *   <li>{@code tokens}: what a text that must be one token split into, a {@code List<String>}.</li>
 *   <li>{@code java_type}: for {@link ErrorKind#CALLBACK_FAILED}, the class of the exception your
 *       Java hook or metric threw.</li>
 * </ul>
 * Values are JSON's: {@code String}, {@code Long} (every integer), {@code Double},
 * {@code Boolean}, and unmodifiable {@code List} / {@code Map}.
 *
 * <pre>{@code
 * try {
 *     model.runWithCache(prompt, Names.of("blocks.0.attn.hook_patern"));
 * } catch (InvalidInputException e) {
 *     List<?> nearest = (List<?>) e.details().get("nearest"); // [blocks.0.attn.hook_pattern, ...]
 * }
 * }</pre>
 */
public class LensException extends RuntimeException {
    private final ErrorKind kind;
    private final String pythonType;
    private final String pythonTraceback;
    private final Map<String, Object> details;

    public LensException(ErrorKind kind, String message, String pythonType, String pythonTraceback, Throwable cause) {
        this(kind, message, pythonType, pythonTraceback, cause, Map.of());
    }

    /** With the error's structured {@code details} (see the class comment for the keys and value types). */
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
     * closest to an unknown one) or {@code shape}; the keys are listed in the class comment.
     * Immutable, nested lists and maps too; empty when the error carries none.
     */
    public Map<String, Object> details() {
        return details;
    }
}
