package org.lens4j;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Which indices along one axis: TransformerLens' {@code utils.Slice}. Everything, one index, a
 * list of indices, or a range {@code start:stop:step}; negative indices count from the end.
 * Hooks use it for batch, position and head selections, the cache and attribution methods for
 * {@code pos_slice} and {@code batch_slice}.
 *
 * <pre>{@code
 * Slice.all();               // Slice(None)             :
 * Slice.at(-1);              // Slice(-1)               the last position
 * Slice.indices(3, 5, 7);    // Slice([3, 5, 7])
 * Slice.range(1, 4);         // Slice((1, 4))           1:4
 * Slice.from(2);             // Slice((2, None))        2:
 * Slice.range(0, 10, 2);     // Slice((0, 10, 2))       0:10:2
 * }</pre>
 *
 * <p>Where a method reads {@code at(i)}, TransformerLens drops the axis (the cache's
 * {@code pos_slice=-1}); a hook keeps it, since it writes the activation back in place.
 */
public final class Slice {
    private static final Slice ALL = new Slice(null, ":");

    /** null, an Integer, a List of Integers, or a {start, stop, step} map: what the Python side reads. */
    private final Object wire;
    private final String text;

    private Slice(Object wire, String text) {
        this.wire = wire;
        this.text = text;
    }

    /** Every index: {@code Slice(None)}. */
    public static Slice all() {
        return ALL;
    }

    /** One index: {@code Slice(i)}. */
    public static Slice at(int index) {
        return new Slice(index, String.valueOf(index));
    }

    /** A list of indices, in the order given: {@code Slice([i, j, ...])}. */
    public static Slice indices(int... indices) {
        if (indices == null || indices.length == 0) {
            throw new IllegalArgumentException("Slice.indices needs at least one index; for every index use Slice.all()");
        }
        return new Slice(Arrays.stream(indices).boxed().toList(), Arrays.toString(indices));
    }

    /** {@code start:stop}; a null bound is open, as in Python. */
    public static Slice range(Integer start, Integer stop) {
        return range(start, stop, 1);
    }

    /** {@code start:stop:step}; a null bound is open; the step must be positive. */
    public static Slice range(Integer start, Integer stop, int step) {
        if (step <= 0) {
            throw new IllegalArgumentException("a slice's step must be positive, got " + step);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("start", start);
        m.put("stop", stop);
        m.put("step", step);
        return new Slice(m, (start == null ? "" : start) + ":" + (stop == null ? "" : stop) + (step == 1 ? "" : ":" + step));
    }

    /** {@code start:} */
    public static Slice from(int start) {
        return range(start, null);
    }

    /** {@code :stop} */
    public static Slice to(int stop) {
        return range(null, stop);
    }

    /** Whether this is {@link #all()}. */
    public boolean isAll() {
        return wire == null;
    }

    /** The indices of {@link #at} or {@link #indices}, else empty (all and ranges depend on the axis' length). */
    public List<Integer> explicitIndices() {
        if (wire instanceof Integer i) {
            return List.of(i);
        }
        if (wire instanceof List<?> list) {
            return list.stream().map(Integer.class::cast).toList();
        }
        return List.of();
    }

    /**
     * The value the Python side reads ({@code null}, an int, a list of ints, or
     * {@code {start, stop, step}}); lens4j's own packages put it into op arguments.
     */
    public Object wire() {
        return wire;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Slice s && Objects.equals(wire, s.wire);
    }

    @Override
    public int hashCode() {
        return Objects.hashCode(wire);
    }

    /** Python's spelling: {@code Slice[:]}, {@code Slice[-1]}, {@code Slice[[3, 5, 7]]}, {@code Slice[1:4]}. */
    @Override
    public String toString() {
        return "Slice[" + text + "]";
    }
}
