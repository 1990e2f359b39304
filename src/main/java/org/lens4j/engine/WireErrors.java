package org.lens4j.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import org.lens4j.ErrorKind;
import org.lens4j.LensException;

/**
 * An op's error as every engine receives it ({@code kind}, {@code message}, {@code type},
 * {@code traceback}, {@code details}) turned into the {@link LensException} of its kind.
 *
 * <pre>{@code
 * throw WireErrors.toException("model.hook_names", reply.error(), null);
 * }</pre>
 */
public final class WireErrors {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private WireErrors() {
    }

    /**
     * A {@code callback_failed} error carries the Java exception that the hook threw
     * ({@code callbackFailure}, when the engine kept one) as its cause.
     */
    public static LensException toException(String op, JsonNode error, Throwable callbackFailure) {
        ErrorKind kind = ErrorKind.fromWire(error.path("kind").asText(null));
        String message = error.path("message").asText("(no message)");
        Throwable cause = null;
        if (kind == ErrorKind.CALLBACK_FAILED && callbackFailure != null) {
            cause = callbackFailure;
            message = op + ": " + cause;
        }
        return LensException.of(kind, message, error.path("type").asText(null), error.path("traceback").asText(null), cause,
                details(error.get("details")));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, ?> details(JsonNode node) {
        if (node == null || !node.isObject()) {
            return Map.of();
        }
        Map<String, Object> values = MAPPER.convertValue(node, Map.class);
        values.values().removeIf(v -> v == null); // Map.copyOf refuses nulls; a null detail says nothing
        return values;
    }
}
