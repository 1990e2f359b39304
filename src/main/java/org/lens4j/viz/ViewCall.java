package org.lens4j.viz;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.lens4j.Blob;
import org.lens4j.Lens;
import org.lens4j.Tensor;
import org.lens4j.internal.Args;
import org.lens4j.internal.LensAccess;

/** One call of a {@code viz.*} op: its arguments, the arrays sent beside them, and the checks shared by the views. */
final class ViewCall {
    private final Lens lens;
    private final Args args = Args.of();
    private final List<Blob> blobs = new ArrayList<>();

    ViewCall(Lens lens) {
        this.lens = Objects.requireNonNull(lens, "lens");
    }

    /** An argument; null leaves it out so that the op's default applies. */
    ViewCall put(String key, Object value) {
        args.put(key, value);
        return this;
    }

    /** An argument sent even when null (Python None differs from the op's default). */
    ViewCall putNullable(String key, Object value) {
        args.map().put(key, value);
        return this;
    }

    /** A rectangular Java float/double array of {@code dims} dimensions, sent as a float32 blob. */
    ViewCall array(String key, Object array, int dims) {
        return put(key, blob(Nd.floats(array, key, dims)));
    }

    ViewCall tensor(String key, Tensor tensor) {
        return put(key, ref(tensor, key));
    }

    /** The reference to a blob sent with this call. */
    Map<String, Object> blob(Blob blob) {
        blobs.add(blob);
        return Map.of("$blob", blobs.size() - 1);
    }

    /** A tensor's reference, checked to belong to this call's Lens. */
    Map<String, Object> ref(Tensor tensor, String name) {
        Objects.requireNonNull(tensor, name);
        if (tensor.lens() != lens) {
            throw new IllegalArgumentException(name + " belongs to another Lens than the other arguments of this view");
        }
        return tensor.ref();
    }

    Html render(String op) {
        return Html.fromView(lens, LensAccess.ops(lens).call(op, args.map(), blobs, null).value());
    }

    // -- checks at the public edge ------------------------------------------------------

    /** A non-empty list of non-null strings; the list is copied. */
    static List<String> strings(List<String> values, String name) {
        if (values == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        if (values.isEmpty()) {
            throw new IllegalArgumentException(name + " is empty");
        }
        for (int i = 0; i < values.size(); i++) {
            if (values.get(i) == null) {
                throw new IllegalArgumentException(name + "[" + i + "] is null; use \"\" for an empty string");
            }
        }
        return List.copyOf(values);
    }

    /** Optional labels: null, or exactly {@code length} non-null strings. */
    static List<String> strings(List<String> values, String name, long length, String what) {
        if (values == null) {
            return null;
        }
        List<String> checked = strings(values, name);
        if (checked.size() != length) {
            throw new IllegalArgumentException(name + " has " + checked.size() + " entries but " + what + " has " + length);
        }
        return checked;
    }

    /** Optional tick labels: null, or exactly {@code length} strings or numbers. */
    static List<Object> labels(List<?> values, String name, long length, String what) {
        if (values == null) {
            return null;
        }
        for (int i = 0; i < values.size(); i++) {
            Object v = values.get(i);
            if (!(v instanceof String || v instanceof Number)) {
                throw new IllegalArgumentException(name + "[" + i + "] must be a string or a number, got "
                        + (v == null ? "null" : v.getClass().getSimpleName()));
            }
        }
        if (values.size() != length) {
            throw new IllegalArgumentException(name + " has " + values.size() + " labels but " + what + " has " + length);
        }
        return List.copyOf(values);
    }

    /**
     * An attention tensor's shape checked against the tokens: {@code [heads, dest, src]}
     * ({@code dims} 3) or {@code [dest, src]} ({@code dims} 2), with one more leading dim of
     * size 1 allowed (a cache's {@code [batch=1, ...]}).
     */
    static void attentionShape(long[] shape, int dims, int tokens) {
        String expected = dims == 3 ? "[heads, dest_pos, src_pos] (or [1, heads, dest_pos, src_pos])" : "[dest_pos, src_pos] (or [1, dest_pos, src_pos])";
        boolean batched = shape.length == dims + 1 && shape[0] == 1;
        if (shape.length != dims && !batched) {
            throw new IllegalArgumentException("attention must have shape " + expected + ", got " + Arrays.toString(shape)
                    + (shape.length == dims + 1 ? "; for a batch, select one prompt (tensor.select(0, i)) or average over it (tensor.mean(0))" : ""));
        }
        long dest = shape[shape.length - 2];
        long src = shape[shape.length - 1];
        if (dest != tokens || src != tokens) {
            throw new IllegalArgumentException("attention's last two dims [dest_pos, src_pos] must both equal the number of tokens ("
                    + tokens + "), got shape " + Arrays.toString(shape));
        }
    }

    static long[] shape(Tensor tensor, String name) {
        Objects.requireNonNull(tensor, name);
        return tensor.shape();
    }

    static void rows(long[] shape, int dim, long expected, String name, String what) {
        if (shape[dim] != expected) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(shape) + " but its dim " + dim
                    + " must equal " + what + " (" + expected + ")");
        }
    }

    static void dims(long[] shape, String name, String expected, int... allowed) {
        for (int d : allowed) {
            if (shape.length == d) {
                return;
            }
        }
        throw new IllegalArgumentException(name + " must have shape " + expected + ", got " + Arrays.toString(shape));
    }

    static void positive(Integer pixels, String name) {
        if (pixels != null && pixels <= 0) {
            throw new IllegalArgumentException(name + " must be a positive number of pixels, got " + pixels);
        }
    }
}
