package org.lens4j;

import java.util.Arrays;
import java.util.List;
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
    /** What a slice holds. */
    public enum Kind { ALL, AT, INDICES, RANGE }

    private static final Slice ALL = new Slice(Kind.ALL, List.of(), null, null, 1);

    private final Kind kind;
    private final List<Integer> indices;
    private final Integer start;
    private final Integer stop;
    private final int step;

    private Slice(Kind kind, List<Integer> indices, Integer start, Integer stop, int step) {
        this.kind = kind;
        this.indices = indices;
        this.start = start;
        this.stop = stop;
        this.step = step;
    }

    /** Every index: {@code Slice(None)}. */
    public static Slice all() {
        return ALL;
    }

    /** One index: {@code Slice(i)}. */
    public static Slice at(int index) {
        return new Slice(Kind.AT, List.of(index), null, null, 1);
    }

    /** A list of indices, in the order given: {@code Slice([i, j, ...])}. */
    public static Slice indices(int... indices) {
        if (indices == null || indices.length == 0) {
            throw new IllegalArgumentException("Slice.indices needs at least one index; for every index use Slice.all()");
        }
        return new Slice(Kind.INDICES, Arrays.stream(indices).boxed().toList(), null, null, 1);
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
        return new Slice(Kind.RANGE, List.of(), start, stop, step);
    }

    /** {@code start:} */
    public static Slice from(int start) {
        return range(start, null);
    }

    /** {@code :stop} */
    public static Slice to(int stop) {
        return range(null, stop);
    }

    public Kind kind() {
        return kind;
    }

    /** The index of {@link #at}, or those of {@link #indices}; empty for {@link #all} and ranges. */
    public List<Integer> indices() {
        return indices;
    }

    /** A range's start, or null (open, or not a range). */
    public Integer start() {
        return start;
    }

    /** A range's stop, or null (open, or not a range). */
    public Integer stop() {
        return stop;
    }

    /** A range's step (1 for every other kind). */
    public int step() {
        return step;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Slice s && kind == s.kind && indices.equals(s.indices) && Objects.equals(start, s.start)
                && Objects.equals(stop, s.stop) && step == s.step;
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, indices, start, stop, step);
    }

    /** Python's spelling: {@code Slice[:]}, {@code Slice[-1]}, {@code Slice[[3, 5, 7]]}, {@code Slice[1:4]}. */
    @Override
    public String toString() {
        String text = switch (kind) {
            case ALL -> ":";
            case AT -> String.valueOf(indices.get(0));
            case INDICES -> indices.toString();
            case RANGE -> (start == null ? "" : start) + ":" + (stop == null ? "" : stop) + (step == 1 ? "" : ":" + step);
        };
        return "Slice[" + text + "]";
    }
}
