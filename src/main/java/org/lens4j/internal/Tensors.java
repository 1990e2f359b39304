package org.lens4j.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.lens4j.Blob;

/**
 * Java arrays to blobs and blobs to Java arrays, for every dtype: the conversions that
 * {@code Lens.tensor}, the {@code Tensor.to*Array} methods and {@code org.lens4j.data.Npy} share.
 * Arrays are row-major; an empty {@code shape} means one dimension of the array's length, except
 * for a one-element array, which makes a 0-d blob.
 *
 * <pre>{@code
 * Blob b = Tensors.blob(new float[] {1, 2, 3, 4, 5, 6}, new long[] {2, 3});   // float32 [2, 3]
 * double[] back = Tensors.doubles(b);                                          // {1.0, ..., 6.0}
 * }</pre>
 */
public final class Tensors {
    private Tensors() {
    }

    private static long[] checkShape(long length, long[] shape) {
        long[] s = shape.length == 0 && length != 1 ? new long[] {length} : shape;
        if (Blob.numel(s) != length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + Blob.numel(s)
                    + " elements, but the array has " + length);
        }
        return s;
    }

    private static ByteBuffer buffer(long bytes) {
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("arrays over 2 GiB cannot be sent in one piece; send slices");
        }
        return ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    public static Blob blob(float[] data, long[] shape) {
        long[] s = checkShape(data.length, shape);
        ByteBuffer b = buffer(4L * data.length);
        b.asFloatBuffer().put(data);
        return new Blob("float32", s, b);
    }

    public static Blob blob(double[] data, long[] shape) {
        long[] s = checkShape(data.length, shape);
        ByteBuffer b = buffer(8L * data.length);
        b.asDoubleBuffer().put(data);
        return new Blob("float64", s, b);
    }

    public static Blob blob(long[] data, long[] shape) {
        long[] s = checkShape(data.length, shape);
        ByteBuffer b = buffer(8L * data.length);
        b.asLongBuffer().put(data);
        return new Blob("int64", s, b);
    }

    public static Blob blob(int[] data, long[] shape) {
        long[] s = checkShape(data.length, shape);
        ByteBuffer b = buffer(4L * data.length);
        b.asIntBuffer().put(data);
        return new Blob("int32", s, b);
    }

    public static Blob blob(short[] data, long[] shape) {
        long[] s = checkShape(data.length, shape);
        ByteBuffer b = buffer(2L * data.length);
        b.asShortBuffer().put(data);
        return new Blob("int16", s, b);
    }

    /** Java bytes are signed, so they make an int8 blob. */
    public static Blob blob(byte[] data, long[] shape) {
        long[] s = checkShape(data.length, shape);
        ByteBuffer b = buffer(data.length);
        b.put(data);
        b.flip();
        return new Blob("int8", s, b);
    }

    public static Blob blob(boolean[] data, long[] shape) {
        long[] s = checkShape(data.length, shape);
        ByteBuffer b = buffer(data.length);
        for (boolean v : data) {
            b.put((byte) (v ? 1 : 0));
        }
        b.flip();
        return new Blob("bool", s, b);
    }

    private static int length(Blob b) {
        long n = b.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a tensor of " + n + " elements does not fit in one Java array; slice it first");
        }
        return (int) n;
    }

    public static float[] floats(Blob b) {
        return floatsInto(b, new float[length(b)]);
    }

    /** Fills {@code out} (exactly numel long): no allocation, the fastest way to read large tensors repeatedly. */
    public static float[] floatsInto(Blob b, float[] out) {
        if (out.length != b.numel()) {
            throw new IllegalArgumentException("the array has " + out.length + " elements; the tensor has " + b.numel());
        }
        ByteBuffer d = b.data();
        switch (b.dtype()) {
            case "float32" -> d.asFloatBuffer().get(out);
            case "float16" -> {
                var s = d.asShortBuffer();
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.float16ToFloat(s.get(i));
                }
            }
            case "bfloat16" -> {
                var s = d.asShortBuffer();
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.intBitsToFloat((s.get(i) & 0xFFFF) << 16);
                }
            }
            default -> {
                double[] wide = doubles(b);
                for (int i = 0; i < out.length; i++) {
                    out[i] = (float) wide[i];
                }
            }
        }
        return out;
    }

    public static double[] doubles(Blob b) {
        ByteBuffer d = b.data();
        double[] out = new double[length(b)];
        switch (b.dtype()) {
            case "float64" -> d.asDoubleBuffer().get(out);
            case "float32", "float16", "bfloat16" -> {
                float[] f = floats(b);
                for (int i = 0; i < out.length; i++) {
                    out[i] = f[i];
                }
            }
            default -> {
                long[] l = longs(b);
                for (int i = 0; i < out.length; i++) {
                    out[i] = l[i];
                }
            }
        }
        return out;
    }

    public static long[] longs(Blob b) {
        ByteBuffer d = b.data();
        long[] out = new long[length(b)];
        switch (b.dtype()) {
            case "int64" -> d.asLongBuffer().get(out);
            case "int32" -> {
                var s = d.asIntBuffer();
                for (int i = 0; i < out.length; i++) {
                    out[i] = s.get(i);
                }
            }
            case "int16" -> {
                var s = d.asShortBuffer();
                for (int i = 0; i < out.length; i++) {
                    out[i] = s.get(i);
                }
            }
            case "int8", "bool" -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = d.get(i);
                }
            }
            case "uint8" -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = d.get(i) & 0xFF;
                }
            }
            default -> throw new IllegalArgumentException("a " + b.dtype()
                    + " tensor cannot be read as integers; convert it with to(DType.INT64) first");
        }
        return out;
    }

    public static int[] ints(Blob b) {
        if (b.dtype().equals("int32")) {
            int[] out = new int[length(b)];
            b.data().asIntBuffer().get(out);
            return out;
        }
        long[] l = longs(b);
        int[] out = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            out[i] = Math.toIntExact(l[i]);
        }
        return out;
    }

    public static boolean[] booleans(Blob b) {
        long[] l = longs(b);
        boolean[] out = new boolean[l.length];
        for (int i = 0; i < l.length; i++) {
            out[i] = l[i] != 0;
        }
        return out;
    }
}
