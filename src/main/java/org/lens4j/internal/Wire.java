package org.lens4j.internal;

import java.util.LinkedHashMap;
import java.util.Map;
import org.lens4j.Input;
import org.lens4j.Slice;

/**
 * API values in the form the Python side reads them.
 *
 * <pre>{@code
 * Args.of("pos_slice", Wire.slice(Slice.at(-1)));   // -1
 * Args.of("input", Wire.input(Input.of("Hello")));   // "Hello"
 * }</pre>
 */
public final class Wire {
    private Wire() {
    }

    /**
     * A {@link Slice} as {@code lens4j_bridge} reads it: {@code null} (all), an int, a list of
     * ints, or {@code {start, stop, step}}; a null slice is {@code null} (the op's default).
     */
    public static Object slice(Slice slice) {
        if (slice == null) {
            return null;
        }
        return switch (slice.kind()) {
            case ALL -> null;
            case AT -> slice.indices().get(0);
            case INDICES -> slice.indices();
            case RANGE -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("start", slice.start());
                m.put("stop", slice.stop());
                m.put("step", slice.step());
                yield m;
            }
        };
    }

    /** An {@link Input} as an op's {@code input}: the prompt(s) as they are, tokens as a handle reference. */
    public static Object input(Input input) {
        if (input == null) {
            throw new IllegalArgumentException("input must be a prompt (String), prompts (List<String>) or tokens (Tensor); got null");
        }
        return switch (input) {
            case Input.Prompt p -> p.text();
            case Input.Prompts p -> p.texts();
            case Input.Tokens t -> t.tokens().ref();
        };
    }
}
