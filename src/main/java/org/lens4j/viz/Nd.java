package org.lens4j.viz;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.lens4j.Blob;

/**
 * Rectangular Java arrays ({@code float[]}, {@code double[][]}, {@code float[][][]}, ...) as
 * blobs: checked for shape here, so that a ragged or empty array fails with its name and
 * the offending index before anything is sent.
 */
final class Nd {
    private Nd() {
    }

    /** The shape of a rectangular float/double array of any depth; {@code name} is used in messages. */
    static long[] shape(Object array, String name) {
        if (array == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        List<Long> dims = new ArrayList<>();
        Object level = array;
        while (true) {
            if (level instanceof float[] f) {
                dims.add((long) f.length);
                break;
            }
            if (level instanceof double[] d) {
                dims.add((long) d.length);
                break;
            }
            if (!(level instanceof Object[] rows)) {
                throw new IllegalArgumentException(name + " must be a float or double array, got " + level.getClass().getSimpleName());
            }
            dims.add((long) rows.length);
            if (rows.length == 0) {
                break;
            }
            level = rows[0];
            if (level == null) {
                throw new IllegalArgumentException(name + "[0]".repeat(dims.size()) + " is null");
            }
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        for (long d : shape) {
            if (d == 0) {
                throw new IllegalArgumentException(name + " is empty (shape " + Arrays.toString(shape) + ")");
            }
        }
        return shape;
    }

    /** A float32 blob of a rectangular array of {@code dims} dimensions (the Python views read float32). */
    static Blob floats(Object array, String name, int dims) {
        long[] shape = shape(array, name);
        if (shape.length != dims) {
            throw new IllegalArgumentException(name + " must have " + dims + " dimensions, got " + shape.length
                    + " (shape " + Arrays.toString(shape) + ")");
        }
        long n = Blob.numel(shape);
        if (n * 4 > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(name + " is too large for one view: shape " + Arrays.toString(shape));
        }
        ByteBuffer data = ByteBuffer.allocate((int) n * 4).order(ByteOrder.LITTLE_ENDIAN);
        fill(array, shape, 0, name, data);
        data.flip();
        return new Blob("float32", shape, data);
    }

    private static void fill(Object level, long[] shape, int depth, String where, ByteBuffer out) {
        if (level == null) {
            throw new IllegalArgumentException(where + " is null");
        }
        if (depth == shape.length - 1) {
            if (level instanceof float[] f && f.length == shape[depth]) {
                for (float v : f) {
                    out.putFloat(v);
                }
                return;
            }
            if (level instanceof double[] d && d.length == shape[depth]) {
                for (double v : d) {
                    out.putFloat((float) v);
                }
                return;
            }
        } else if (level instanceof Object[] rows && rows.length == shape[depth]) {
            for (int i = 0; i < rows.length; i++) {
                fill(rows[i], shape, depth + 1, where + "[" + i + "]", out);
            }
            return;
        }
        throw new IllegalArgumentException("ragged array: " + where + " should have length " + shape[depth]
                + " like the first row at its depth (the array's shape from its first rows is " + Arrays.toString(shape) + ")");
    }

    /** An int64 blob of token ids. */
    static Blob longs(long[] values, String name) {
        if (values == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        ByteBuffer data = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            data.putLong(v);
        }
        data.flip();
        return new Blob("int64", new long[] {values.length}, data);
    }
}
