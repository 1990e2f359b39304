package org.lens4j.analysis;

import java.util.Arrays;
import java.util.Objects;
import org.lens4j.InvalidInputException;

/**
 * TransformerLens' {@code utils.Slice} for the cache methods' {@code pos_slice} and
 * {@code batch_slice}: everything, one index (drops the axis), a list of indices, or a range.
 * Negative indices count from the end.
 *
 * <pre>{@code
 * Slice.all();              // Slice(None)
 * Slice.at(-1);             // Slice(-1): the last position, axis dropped (seed 001's pos_slice=-1)
 * Slice.of(3, 5, 7);        // Slice([3, 5, 7])
 * Slice.range(2, null);     // Slice((2, None)): from position 2 on
 * }</pre>
 */
public final class Slice {
    private static final Slice ALL = new Slice(null, "all");

    private final Object wire;
    private final String description;

    private Slice(Object wire, String description) {
        this.wire = wire;
        this.description = description;
    }

    public static Slice all() {
        return ALL;
    }

    public static Slice at(int index) {
        return new Slice(index, "at(" + index + ")");
    }

    public static Slice of(int... indices) {
        if (indices == null || indices.length == 0) {
            throw new InvalidInputException("a slice of indices needs at least one index");
        }
        return new Slice(Arrays.stream(indices).boxed().toList(), "of" + Arrays.toString(indices));
    }

    public static Slice range(Integer start, Integer stop) {
        return range(start, stop, null);
    }

    public static Slice range(Integer start, Integer stop, Integer step) {
        if (step != null && step == 0) {
            throw new InvalidInputException("a slice's step must not be 0");
        }
        return new Slice(Wire.map("start", start, "stop", stop, "step", step), "range(" + start + ", " + stop + ", " + step + ")");
    }

    Object wire() {
        return wire;
    }

    static Object wire(Slice s) {
        return s == null ? null : s.wire;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Slice s && Objects.equals(wire, s.wire);
    }

    @Override
    public int hashCode() {
        return Objects.hashCode(wire);
    }

    @Override
    public String toString() {
        return "Slice." + description;
    }
}
