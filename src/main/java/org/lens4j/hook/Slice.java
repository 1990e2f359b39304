package org.lens4j.hook;

/**
 * A range for a selector, like a Python slice {@code start:stop:step}: null bounds mean the
 * ends, negative bounds count from the end, and the range clips to the axis (as Python's does).
 *
 * <pre>{@code
 * Hook.at("blocks.0.hook_resid_pre").positions(Slice.of(1, 4)).zero();   // positions 1, 2, 3
 * Hook.at("blocks.0.hook_resid_pre").positions(Slice.from(-2)).zero();   // the last two
 * Hook.at("blocks.0.attn.hook_z").heads(Slice.to(2)).zero();             // heads 0 and 1
 * }</pre>
 *
 * @param start the first index, or null for the beginning
 * @param stop the index after the last, or null for the end
 * @param step a positive step
 */
public record Slice(Integer start, Integer stop, int step) {
    public Slice {
        if (step <= 0) {
            throw new IllegalArgumentException("a slice's step must be positive, got " + step);
        }
    }

    /** {@code start:stop}. */
    public static Slice of(Integer start, Integer stop) {
        return new Slice(start, stop, 1);
    }

    /** {@code start:} */
    public static Slice from(int start) {
        return new Slice(start, null, 1);
    }

    /** {@code :stop} */
    public static Slice to(int stop) {
        return new Slice(null, stop, 1);
    }

    /** {@code :} (everything) */
    public static Slice all() {
        return new Slice(null, null, 1);
    }

    public Slice withStep(int value) {
        return new Slice(start, stop, value);
    }

    java.util.Map<String, Object> wire() {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("start", start);
        m.put("stop", stop);
        m.put("step", step);
        return m;
    }

    @Override
    public String toString() {
        return (start == null ? "" : start) + ":" + (stop == null ? "" : stop) + (step == 1 ? "" : ":" + step);
    }
}
