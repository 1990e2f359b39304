package org.lens4j.analysis;

import java.lang.reflect.Array;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * The {@code toString} of the result records that hold arrays: a record's default prints an
 * array as its identity ({@code [D@1b6d3586}), which says nothing in JShell. Here an array prints
 * as its type, shape and first values ({@code double[3][4] {0.12, -0.5, 1.3, 0.0, ...}}) and every
 * other component as the record's default would. A result record with an array component
 * overrides {@code toString} with {@code return Shown.of(this);} (docs/API-CONVENTIONS.md).
 */
final class Shown {

    /** How many leading values (flattened, row-major) an array shows. */
    static final int FIRST_VALUES = 6;

    private Shown() {
    }

    /** {@code Outer.Name[component=value, ...]}, arrays summarised. */
    static String of(Record r) {
        Class<?> type = r.getClass();
        Class<?> outer = type.getEnclosingClass();
        String name = outer == null ? type.getSimpleName() : outer.getSimpleName() + "." + type.getSimpleName();
        StringJoiner out = new StringJoiner(", ", name + "[", "]");
        for (RecordComponent c : type.getRecordComponents()) {
            Object v;
            try {
                v = c.getAccessor().invoke(r);
            } catch (IllegalAccessException | InvocationTargetException e) {
                v = "(unreadable: " + e + ")";
            }
            out.add(c.getName() + "=" + value(v));
        }
        return out.toString();
    }

    /** An array as {@code type[d0][d1] {first values, ...}}; anything else as {@link String#valueOf}. */
    static String value(Object v) {
        if (v == null || !v.getClass().isArray()) {
            return String.valueOf(v);
        }
        Class<?> leaf = v.getClass();
        StringBuilder dims = new StringBuilder();
        Object row = v;
        while (leaf.isArray()) {
            dims.append('[').append(row == null ? "?" : Array.getLength(row)).append(']');
            row = row != null && Array.getLength(row) > 0 ? Array.get(row, 0) : null;
            leaf = leaf.getComponentType();
        }
        StringJoiner first = new StringJoiner(", ", " {", "}");
        int[] left = {FIRST_VALUES};
        boolean more = collect(v, first, left);
        if (more) {
            first.add("...");
        }
        return leaf.getSimpleName() + dims + first;
    }

    /** Adds leaves row-major until {@code left[0]} runs out; true when values were left unshown. */
    private static boolean collect(Object array, StringJoiner into, int[] left) {
        int n = Array.getLength(array);
        for (int i = 0; i < n; i++) {
            Object x = Array.get(array, i);
            if (x != null && x.getClass().isArray()) {
                if (collect(x, into, left)) {
                    return true;
                }
            } else {
                if (left[0] == 0) {
                    return true;
                }
                boolean real = x instanceof Double || x instanceof Float;
                into.add(real ? String.format(Locale.ROOT, "%.4g", ((Number) x).doubleValue()) : String.valueOf(x));
                left[0]--;
            }
        }
        return false;
    }
}
