package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.lens4j.Input;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Slice;
import org.lens4j.Tensor;
import org.lens4j.internal.LensAccess;

/** Turns op results into plain Java data: tensors into nested arrays (fetched and released at once), lists into lists. */
final class Wire {
    private Wire() {
    }

    static long[] shape(JsonNode tensor) {
        JsonNode s = tensor.path("shape");
        long[] out = new long[s.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = s.get(i).asLong();
        }
        return out;
    }

    static double[] flat(Lens lens, JsonNode tensor) {
        try (Tensor t = LensAccess.ops(lens).tensor(tensor)) {
            return t.toDoubleArray();
        }
    }

    static long[] flatLongs(Lens lens, JsonNode tensor) {
        try (Tensor t = LensAccess.ops(lens).tensor(tensor)) {
            return t.toLongArray();
        }
    }

    private static void requireDims(JsonNode tensor, int n, String what) {
        if (shape(tensor).length != n) {
            throw new IllegalStateException("expected " + what + " with " + n + " dims, got shape " + tensor.path("shape"));
        }
    }

    static double[] d1(Lens lens, JsonNode tensor) {
        requireDims(tensor, 1, "a vector");
        return flat(lens, tensor);
    }

    static double[][] d2(Lens lens, JsonNode tensor) {
        requireDims(tensor, 2, "a grid");
        long[] s = shape(tensor);
        return rows(flat(lens, tensor), 0, (int) s[0], (int) s[1]);
    }

    static double[][][] d3(Lens lens, JsonNode tensor) {
        requireDims(tensor, 3, "a 3-d grid");
        long[] s = shape(tensor);
        double[] flat = flat(lens, tensor);
        int b = (int) s[1];
        int c = (int) s[2];
        double[][][] out = new double[(int) s[0]][][];
        for (int i = 0; i < out.length; i++) {
            out[i] = rows(flat, i * b * c, b, c);
        }
        return out;
    }

    static double[][][][] d4(Lens lens, JsonNode tensor) {
        requireDims(tensor, 4, "a 4-d grid");
        long[] s = shape(tensor);
        double[] flat = flat(lens, tensor);
        int b = (int) s[1];
        int c = (int) s[2];
        int d = (int) s[3];
        double[][][][] out = new double[(int) s[0]][b][][];
        for (int i = 0; i < out.length; i++) {
            for (int j = 0; j < b; j++) {
                out[i][j] = rows(flat, (i * b + j) * c * d, c, d);
            }
        }
        return out;
    }

    private static double[][] rows(double[] flat, int offset, int n, int m) {
        double[][] out = new double[n][m];
        for (int r = 0; r < n; r++) {
            System.arraycopy(flat, offset + r * m, out[r], 0, m);
        }
        return out;
    }

    static long[][][] l3(Lens lens, JsonNode tensor) {
        requireDims(tensor, 3, "a 3-d grid");
        long[] s = shape(tensor);
        long[] flat = flatLongs(lens, tensor);
        int b = (int) s[1];
        int c = (int) s[2];
        long[][][] out = new long[(int) s[0]][b][c];
        for (int i = 0; i < out.length; i++) {
            for (int j = 0; j < b; j++) {
                System.arraycopy(flat, (i * b + j) * c, out[i][j], 0, c);
            }
        }
        return out;
    }

    static long[][][][] l4(Lens lens, JsonNode tensor) {
        requireDims(tensor, 4, "a 4-d grid");
        long[] s = shape(tensor);
        long[] flat = flatLongs(lens, tensor);
        int b = (int) s[1];
        int c = (int) s[2];
        int d = (int) s[3];
        long[][][][] out = new long[(int) s[0]][b][c][d];
        for (int i = 0; i < out.length; i++) {
            for (int j = 0; j < b; j++) {
                for (int k = 0; k < c; k++) {
                    System.arraycopy(flat, ((i * b + j) * c + k) * d, out[i][j][k], 0, d);
                }
            }
        }
        return out;
    }

    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>(array.size());
        array.forEach(n -> out.add(n.asText()));
        return List.copyOf(out);
    }

    static List<List<String>> strings2(JsonNode array) {
        List<List<String>> out = new ArrayList<>(array.size());
        array.forEach(n -> out.add(strings(n)));
        return List.copyOf(out);
    }

    static String[][][][] strings4(JsonNode array) {
        String[][][][] out = new String[array.size()][][][];
        for (int i = 0; i < out.length; i++) {
            JsonNode a = array.get(i);
            out[i] = new String[a.size()][][];
            for (int j = 0; j < a.size(); j++) {
                JsonNode b = a.get(j);
                out[i][j] = new String[b.size()][];
                for (int k = 0; k < b.size(); k++) {
                    JsonNode c = b.get(k);
                    out[i][j][k] = new String[c.size()];
                    for (int l = 0; l < c.size(); l++) {
                        out[i][j][k][l] = c.get(l).asText();
                    }
                }
            }
        }
        return out;
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    static List<Integer> intList(JsonNode array) {
        List<Integer> out = new ArrayList<>(array.size());
        array.forEach(n -> out.add(n.asInt()));
        return List.copyOf(out);
    }

    static int[][] ints2(JsonNode array) {
        int[][] out = new int[array.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = ints(array.get(i));
        }
        return out;
    }

    static double[] doubles(JsonNode array) {
        double[] out = new double[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = number(array.get(i));
        }
        return out;
    }

    /** A number, where Python's NaN and infinities may arrive as text. */
    static double number(JsonNode n) {
        if (n.isTextual()) {
            return Double.parseDouble(n.asText());
        }
        return n.asDouble();
    }

    /** A prompt as an {@link Input}; null is refused with the argument's name. */
    static Input input(String prompt, String name) {
        return Input.of(Objects.requireNonNull(prompt, name));
    }

    /** Prompts as an {@link Input}; null is refused with the argument's name. */
    static Input input(List<String> prompts, String name) {
        return Input.of(Objects.requireNonNull(prompts, name));
    }

    /** Tokens as an {@link Input}; null is refused with the argument's name. */
    static Input input(Tensor tokens, String name) {
        return Input.of(Objects.requireNonNull(tokens, name));
    }

    /** An input as an op's argument ({@link org.lens4j.internal.Wire#input}); null is refused with the argument's name. */
    static Object arg(Input input, String name) {
        return org.lens4j.internal.Wire.input(Objects.requireNonNull(input, name));
    }

    /** A slice as the ops read it ({@link org.lens4j.internal.Wire#slice}); null stays null, the op's default. */
    static Object slice(Slice slice) {
        return org.lens4j.internal.Wire.slice(slice);
    }

    static Map<String, Object> map(Object... keysAndValues) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            if (keysAndValues[i + 1] != null) {
                out.put((String) keysAndValues[i], keysAndValues[i + 1]);
            }
        }
        return out;
    }

    static List<Integer> checkedList(List<Integer> values, String what) {
        if (values == null) {
            return null;
        }
        if (values.isEmpty()) {
            throw new InvalidInputException(what + " is empty: give at least one, or null for all");
        }
        for (Integer v : values) {
            if (v == null) {
                throw new InvalidInputException(what + " contains null");
            }
        }
        return List.copyOf(values);
    }

    static void requirePositive(int value, String what) {
        if (value < 1) {
            throw new InvalidInputException(what + " must be >= 1; got " + value);
        }
    }
}
