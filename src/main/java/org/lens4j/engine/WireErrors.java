package org.lens4j.engine;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.lens4j.ErrorKind;
import org.lens4j.LensException;

/**
 * An op's error as every engine receives it ({@code kind}, {@code message}, {@code type},
 * {@code traceback}, {@code details}) turned into the {@link LensException} of its kind, with its
 * {@code details} as {@link LensException#details()}. Every engine's error path ends here, so that
 * the details reach the caller the same way whichever engine ran the op.
 *
 * <pre>{@code
 * throw WireErrors.toException("model.hook_names", reply.error(), null);
 * }</pre>
 */
public final class WireErrors {
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

    /**
     * The wire's {@code details} object as Java values: integers as {@code Long} (whatever their
     * size, so that callers need not guess between Integer and Long; a BigInteger only past
     * Long's range), other numbers as
     * {@code Double}, and unmodifiable lists and maps. A top-level null says nothing and is left
     * out; inside a list it stays (an {@code expected} shape's "any size").
     */
    static Map<String, Object> details(JsonNode node) {
        if (node == null || !node.isObject()) {
            return Map.of();
        }
        Map<String, Object> values = new LinkedHashMap<>();
        node.properties().forEach(e -> {
            Object value = value(e.getValue());
            if (value != null) {
                values.put(e.getKey(), value);
            }
        });
        return values;
    }

    private static Object value(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return null;
        }
        if (node.isIntegralNumber()) {
            return node.canConvertToLong() ? (Object) node.asLong() : node.bigIntegerValue();
        }
        if (node.isNumber()) {
            return node.asDouble();
        }
        if (node.isBoolean()) {
            return node.asBoolean();
        }
        if (node.isArray()) {
            List<Object> list = new ArrayList<>(node.size());
            node.forEach(item -> list.add(value(item)));
            return Collections.unmodifiableList(list);
        }
        if (node.isObject()) {
            Map<String, Object> map = new LinkedHashMap<>();
            node.properties().forEach(e -> map.put(e.getKey(), value(e.getValue())));
            return Collections.unmodifiableMap(map);
        }
        return node.asText();
    }
}
