package org.lens4j.examples;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.lens4j.analysis.Head;

/** Console formatting for the examples: headings, tokens, number lists, small tables, best heads. */
final class Print {
    private Print() {
    }

    /** The example's title. */
    static void title(String text) {
        System.out.println("=".repeat(Math.min(100, text.length())));
        System.out.println(text);
        System.out.println("=".repeat(Math.min(100, text.length())));
    }

    /** A notebook step's heading. */
    static void step(String text) {
        System.out.println();
        System.out.println("-- " + text + " " + "-".repeat(Math.max(3, 96 - text.length())));
    }

    static void line(String format, Object... args) {
        System.out.println(String.format(Locale.ROOT, format, args));
    }

    /** A token as Python prints a string: {@code ' Mary'}. */
    static String tok(String token) {
        return "'" + token.replace("\n", "\\n") + "'";
    }

    static List<String> toks(List<String> tokens) {
        return tokens.stream().map(Print::tok).toList();
    }

    static String num(double value) {
        return String.format(Locale.ROOT, "%.3f", value);
    }

    static String nums(double[] values) {
        return nums(values, "%.3f");
    }

    static String nums(double[] values, String format) {
        List<String> parts = new ArrayList<>();
        for (double v : values) {
            parts.add(String.format(Locale.ROOT, format, v));
        }
        return "[" + String.join(", ", parts) + "]";
    }

    /** A small table: one row per row label, one column per column label (cut to {@code width} characters). */
    static void table(double[][] values, List<String> rowLabels, List<String> colLabels, int width, String format) {
        int rowWidth = rowLabels.stream().mapToInt(String::length).max().orElse(0);
        StringBuilder head = new StringBuilder(" ".repeat(rowWidth + 1));
        for (String c : colLabels) {
            String label = c.replace("\n", "\\n");
            head.append(String.format(Locale.ROOT, " %" + width + "s", label.length() > width ? label.substring(0, width) : label));
        }
        System.out.println(head);
        for (int r = 0; r < values.length; r++) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-" + (rowWidth + 1) + "s", rowLabels.get(r)));
            for (double v : values[r]) {
                row.append(String.format(Locale.ROOT, " %" + width + "s", Double.isNaN(v) ? "-" : String.format(Locale.ROOT, format, v)));
            }
            System.out.println(row);
        }
    }

    /** Row labels "L0", "L1", ... */
    static List<String> layers(int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add("L" + i);
        }
        return out;
    }

    /** Column labels "H0", "H1", ... */
    static List<String> heads(int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add("H" + i);
        }
        return out;
    }

    /** Position labels "0:<|endoftext|>", "1:When", ... for table columns. */
    static List<String> positions(List<String> tokens) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < tokens.size(); i++) {
            out.add(tokens.get(i).strip().isEmpty() ? "_" + i : tokens.get(i).strip());
        }
        return out;
    }

    /** The heads of a [layer][head] grid, largest value first (NaN last). */
    static List<Head> ranked(double[][] grid) {
        List<Head> heads = new ArrayList<>();
        for (int l = 0; l < grid.length; l++) {
            for (int h = 0; h < grid[l].length; h++) {
                heads.add(Head.of(l, h));
            }
        }
        heads.sort(Comparator.comparingDouble((Head x) -> Double.isNaN(grid[x.layer()][x.head()]) ? Double.NEGATIVE_INFINITY
                : grid[x.layer()][x.head()]).reversed());
        return heads;
    }

    /** "L3H1 2.104, L2H0 0.913, ..." for the {@code k} largest values. */
    static String best(double[][] grid, int k) {
        return ranked(grid).stream().limit(k).map(h -> h + " " + num(grid[h.layer()][h.head()])).reduce((a, b) -> a + ", " + b).orElse("");
    }

    /** "L3H1 -2.104, ..." for the {@code k} smallest values. */
    static String worst(double[][] grid, int k) {
        List<Head> r = new ArrayList<>(ranked(grid));
        Collections.reverse(r);
        return r.stream().filter(h -> !Double.isNaN(grid[h.layer()][h.head()])).limit(k)
                .map(h -> h + " " + num(grid[h.layer()][h.head()])).reduce((a, b) -> a + ", " + b).orElse("");
    }
}
