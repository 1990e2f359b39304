package org.lens4j.analysis;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.lens4j.InvalidInputException;

/**
 * Which positions a metric reads, per prompt. Negative positions count from the end
 * ({@code -1} is the last column). The metric averages over the positions it reads.
 *
 * <pre>{@code
 * Positions.last();                 // each prompt's last real token (the default; right padding is honoured)
 * Positions.at(-1);                 // the last column of every prompt
 * Positions.atEach(5, 9);           // positions 5 and 9 of every prompt, averaged
 * Positions.perPrompt(12, 14, 13);  // prompt 0 at 12, prompt 1 at 14, prompt 2 at 13
 * Positions.all();                  // every position, averaged
 * }</pre>
 */
public final class Positions {
    private static final Positions LAST = new Positions(null, "last");
    private static final Positions ALL = new Positions("all", "all");

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

    /** Every position, averaged. */
    public static Positions all() {
        return ALL;
    }

    /** One position for every prompt. */
    public static Positions at(int position) {
        return new Positions(position, "at(" + position + ")");
    }

    /** The same positions for every prompt (the metric averages over them). */
    public static Positions atEach(int... positions) {
        requireSome(positions);
        List<Integer> row = Arrays.stream(positions).boxed().toList();
        return new Positions(List.of(row), "atEach" + row);
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
