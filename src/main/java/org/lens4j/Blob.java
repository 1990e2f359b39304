package org.lens4j;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * A dense array as raw little-endian bytes in C order: what moves between Java and Python.
 *
 * <p>A blob received from an engine may be a view into shared memory that the engine reuses
 * on its next exchange, so copy it out (for example with {@link #data()} and a bulk get)
 * before making another call.
 *
 * <pre>{@code
 * Blob b = Blob.of(DTypeName.FLOAT32, new long[] {2, 3}, ByteBuffer.allocate(24));
 * }</pre>
 *
 * @param dtype the element type name, as torch spells it without "torch." ("float32", "int64", "bfloat16", ...)
 * @param shape the dimensions (empty for a 0-d tensor)
 * @param data exactly {@code numel * itemSize} bytes, position 0, little-endian
 */
public record Blob(String dtype, long[] shape, ByteBuffer data) {

    public Blob {
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
        int itemSize = itemSize(dtype);
        long numel = numel(shape);
        if ((long) data.remaining() != numel * itemSize) {
            throw new IllegalArgumentException("a " + dtype + " blob of shape " + Arrays.toString(shape)
                    + " needs " + numel * itemSize + " bytes, got " + data.remaining());
        }
        data = data.slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Bytes per element of a dtype name; an unknown name is an IllegalArgumentException that lists the valid ones. */
    public static int itemSize(String dtype) {
        return switch (dtype) {
            case "float64", "int64" -> 8;
            case "float32", "int32" -> 4;
            case "float16", "bfloat16", "int16" -> 2;
            case "int8", "uint8", "bool" -> 1;
            default -> throw new IllegalArgumentException("unknown dtype '" + dtype
                    + "'; valid: float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool");
        };
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public long numel() {
        return numel(shape);
    }

    public int nbytes() {
        return data.remaining();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** A read-only little-endian view of the bytes, positioned at 0. */
    @Override
    public ByteBuffer data() {
        return data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A copy whose bytes live on the Java heap, independent of any shared memory. */
    public Blob copy() {
        ByteBuffer copy = ByteBuffer.allocate(data.remaining());
        copy.put(data.duplicate());
        copy.flip();
        return new Blob(dtype, shape, copy);
    }

    @Override
    public String toString() {
        return "Blob[" + dtype + " " + Arrays.toString(shape) + "]";
    }
}
