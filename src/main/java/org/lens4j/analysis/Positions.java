package org.lens4j.analysis;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.lens4j.InvalidInputException;
import org.lens4j.Slice;

/**
 * Which positions a metric reads, per prompt; the metric averages over the positions it reads.
 * Where every prompt reads the same positions, say them with a {@link Slice} (the metrics'
 * {@code at(Slice)}); {@code Positions} adds only what a Slice cannot say: each prompt's last
 * real token of a padded batch (the default), and positions that differ from prompt to prompt.
 *
 * <pre>{@code
 * Metrics.logitDiff(answers).at(Slice.at(-1));                        // the last column of every prompt
 * Metrics.logitDiff(answers).at(Slice.indices(5, -1));                // positions 5 and -1 of every prompt, averaged
 * Metrics.kl(cleanLogits).at(Slice.all());                            // every position, averaged
 * Metrics.logitDiff(answers).at(Positions.last());                    // each prompt's last real token (the default)
 * Metrics.logitDiff(answers).at(Positions.perPrompt(12, 14, 13));     // prompt 0 at 12, prompt 1 at 14, prompt 2 at 13
 * }</pre>
 *
 * <p>Why two types: a Slice is one selection along one axis, the same for every row, as
 * TransformerLens' {@code utils.Slice} is; "the last real token" depends on each prompt's
 * length under padding, and per-prompt positions are a list of selections. Keeping those out
 * of {@code Slice} keeps it TransformerLens' Slice.
 *
 * <p>A Slice range is sent as the positions it selects, since a metric's positions are read
 * without the sequence length: a range must have both ends on one side, non-negative
 * ({@code Slice.range(2, 5)}, {@code Slice.to(3)}) or counted from the end
 * ({@code Slice.from(-3)}, {@code Slice.range(-4, -1)}). A range that needs the length
 * ({@code Slice.from(2)}, {@code Slice.range(1, -1)}) is refused; unlike Python slicing, a
 * position past the end is an error rather than clipped.
 */
public final class Positions {
    private static final Positions LAST = new Positions(null, "last");

    private final Object wire;
    private final String description;

    private Positions(Object wire, String description) {
        this.wire = wire;
        this.description = description;
    }

    /** Each prompt's last real token: the end of each prompt of a right-padded batch of strings, else the last column. */
    public static Positions last() {
        return LAST;
    }

    /** The same positions for every prompt; negative positions count from the end. */
    public static Positions of(Slice slice) {
        Objects.requireNonNull(slice, "slice");
        String description = "of(" + slice + ")";
        return switch (slice.kind()) {
            case ALL -> new Positions("all", description);
            case AT -> new Positions(slice.indices().get(0), description);
            // one row of positions, which the metric gives every prompt
            case INDICES -> new Positions(List.of(slice.indices()), description);
            case RANGE -> {
                List<Integer> row = rangePositions(slice);
                yield new Positions(row == null ? "all" : List.of(row), description);
            }
        };
    }

    /** One position per prompt, in the batch's order. */
    public static Positions perPrompt(int... positions) {
        requireSome(positions);
        List<Integer> list = Arrays.stream(positions).boxed().toList();
        return new Positions(list, "perPrompt" + list);
    }

    /** Several positions per prompt (every prompt the same count), averaged per prompt. */
    public static Positions perPrompt(int[]... positions) {
        if (positions == null || positions.length == 0) {
            throw new InvalidInputException("give positions for at least one prompt");
        }
        List<List<Integer>> rows = new ArrayList<>();
        for (int[] row : positions) {
            requireSome(row);
            if (row.length != positions[0].length) {
                throw new InvalidInputException("every prompt must read the same number of positions; got " + Arrays.deepToString(positions));
            }
            rows.add(Arrays.stream(row).boxed().toList());
        }
        return new Positions(rows, "perPrompt" + rows);
    }

    /** The positions of a range whose ends are both on one side, or null for the whole axis ({@code :}). */
    private static List<Integer> rangePositions(Slice range) {
        Integer start = range.start();
        Integer stop = range.stop();
        int step = range.step();
        if (start == null && stop == null && step == 1) {
            return null;
        }
        int from;
        int to;
        if ((start == null || start >= 0) && stop != null && stop >= 0) {
            from = start == null ? 0 : start;
            to = stop;
        } else if (start != null && start < 0 && (stop == null || stop < 0)) {
            from = start;
            to = stop == null ? 0 : stop;
        } else {
            throw new InvalidInputException("metric positions " + range + " depend on the sequence length, which a metric's positions are "
                    + "read without: give both ends on one side, non-negative (Slice.range(2, 5), Slice.to(3)) or from the end "
                    + "(Slice.from(-3), Slice.range(-4, -1)), or list them with Slice.indices(...)");
        }
        List<Integer> row = new ArrayList<>();
        for (int p = from; p < to; p += step) {
            row.add(p);
        }
        if (row.isEmpty()) {
            throw new InvalidInputException("metric positions " + range + " select no position");
        }
        return List.copyOf(row);
    }

    private static void requireSome(int[] positions) {
        if (positions == null || positions.length == 0) {
            throw new InvalidInputException("give at least one position");
        }
    }

    /** The value of a metric spec's {@code positions} field (null for the default, the last token). */
    Object wire() {
        return wire;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Positions p && Objects.equals(wire, p.wire);
    }

    @Override
    public int hashCode() {
        return Objects.hashCode(wire);
    }

    @Override
    public String toString() {
        return "Positions." + description;
    }
}
