package org.lens4j;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.lens4j.engine.Reply;
import org.lens4j.internal.Args;
import org.lens4j.internal.Tensors;

/**
 * A handle to a torch tensor that stays in Python, on its device. Ops ({@link #select},
 * {@link #mean}, {@link #softmax}, ...) run there and return new handles; only the
 * {@code to*Array} methods move data into Java.
 *
 * <pre>{@code
 * Tensor logits = model.logits("The Eiffel Tower is in");   // [1, pos, d_vocab]
 * Tensor last = logits.select(1, -1).select(0, 0);           // [d_vocab]
 * Tensor.TopK top = last.softmax(-1).topk(5);
 * long[] ids = top.indices().toLongArray();
 * float[] probs = top.values().toFloatArray();
 * System.out.println(last);                                  // Tensor[float32 [512] cpu] tensor([...])
 * }</pre>
 */
public final class Tensor extends Handle {
    private final long[] shape;
    private final DType dtype;
    private final String device;

    Tensor(Lens lens, JsonNode node) {
        super(lens, node.get("$tensor").asLong());
        JsonNode s = node.path("shape");
        this.shape = new long[s.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = s.get(i).asLong();
        }
        this.dtype = DType.of(node.path("dtype").asText());
        this.device = node.path("device").asText("cpu");
    }

    static Tensor send(Lens lens, Blob blob) {
        Reply r = lens.call("tensor.from_blob", Map.of("data", Map.of("$blob", 0)), List.of(blob), null);
        return new Tensor(lens, r.value());
    }

    @Override
    String what() {
        return "tensor";
    }

    // -- metadata (kept in Java: works after close) ------------------------------------

    public long[] shape() {
        return shape.clone();
    }

    public int dim() {
        return shape.length;
    }

    /** The size of a dimension; negative counts from the end. */
    public long size(int dim) {
        return shape[normalizeDim(dim)];
    }

    public long numel() {
        return Blob.numel(shape);
    }

    public DType dtype() {
        return dtype;
    }

    public String device() {
        return device;
    }

    private int normalizeDim(int dim) {
        int n = shape.length;
        if (dim < -n || dim >= n) {
            throw new IndexOutOfBoundsException("dim " + dim + " is out of range for a tensor of shape " + Arrays.toString(shape));
        }
        return dim < 0 ? dim + n : dim;
    }

    // -- ops (run in Python, return new handles) ---------------------------------------

    private Tensor op(String op, Args args) {
        Map<String, Object> map = args.put("tensor", ref()).map();
        return new Tensor(lens(), lens().call(op, map, List.of(), null).value());
    }

    /** {@code tensor.select(dim, index)}: drops the dimension; negative indices count from the end. */
    public Tensor select(int dim, long index) {
        return op("tensor.select", Args.of("dim", dim, "index", index));
    }

    /** {@code tensor[..., start:stop, ...]} along {@code dim}; nulls mean the ends. */
    public Tensor slice(int dim, Long start, Long stop) {
        return slice(dim, start, stop, 1);
    }

    public Tensor slice(int dim, Long start, Long stop, long step) {
        return op("tensor.slice", Args.of("dim", dim, "start", start, "stop", stop, "step", step));
    }

    /** {@code index_select} along {@code dim}; negative indices count from the end. */
    public Tensor index(int dim, long... indices) {
        return op("tensor.index", Args.of("dim", dim, "indices", indices));
    }

    public Tensor mean() {
        return op("tensor.mean", Args.of());
    }

    public Tensor mean(int... dims) {
        return op("tensor.mean", Args.of("dim", dims));
    }

    public Tensor sum() {
        return op("tensor.sum", Args.of());
    }

    public Tensor sum(int... dims) {
        return op("tensor.sum", Args.of("dim", dims));
    }

    public Tensor max(int dim) {
        return op("tensor.max", Args.of("dim", dim));
    }

    public Tensor min(int dim) {
        return op("tensor.min", Args.of("dim", dim));
    }

    public Tensor argmax(int dim) {
        return op("tensor.argmax", Args.of("dim", dim));
    }

    public Tensor softmax(int dim) {
        return op("tensor.softmax", Args.of("dim", dim));
    }

    public Tensor logSoftmax(int dim) {
        return op("tensor.log_softmax", Args.of("dim", dim));
    }

    /** The top {@code k} values and their indices along the last dimension. */
    public TopK topk(int k) {
        return topk(k, -1);
    }

    public TopK topk(int k, int dim) {
        JsonNode v = lens().call("tensor.topk", Args.of("tensor", ref(), "k", k, "dim", dim).map(), List.of(), null).value();
        return new TopK(new Tensor(lens(), v.get("values")), new Tensor(lens(), v.get("indices")));
    }

    /** Values and indices of {@link #topk}; closing it closes both. */
    public record TopK(Tensor values, Tensor indices) implements AutoCloseable {
        @Override
        public void close() {
            values.close();
            indices.close();
        }
    }

    public Tensor diagonal(int offset) {
        return op("tensor.diagonal", Args.of("offset", offset));
    }

    public Tensor matmul(Tensor other) {
        return op("tensor.matmul", Args.of("other", other.ref()));
    }

    public Tensor add(Tensor other) {
        return op("tensor.arith", Args.of("fn", "add", "other", other.ref()));
    }

    public Tensor add(double scalar) {
        return op("tensor.arith", Args.of("fn", "add", "other", scalar));
    }

    public Tensor sub(Tensor other) {
        return op("tensor.arith", Args.of("fn", "sub", "other", other.ref()));
    }

    public Tensor sub(double scalar) {
        return op("tensor.arith", Args.of("fn", "sub", "other", scalar));
    }

    public Tensor mul(Tensor other) {
        return op("tensor.arith", Args.of("fn", "mul", "other", other.ref()));
    }

    public Tensor mul(double scalar) {
        return op("tensor.arith", Args.of("fn", "mul", "other", scalar));
    }

    public Tensor div(Tensor other) {
        return op("tensor.arith", Args.of("fn", "div", "other", other.ref()));
    }

    public Tensor div(double scalar) {
        return op("tensor.arith", Args.of("fn", "div", "other", scalar));
    }

    public Tensor to(DType type) {
        return op("tensor.to", Args.of("dtype", type.wireName()));
    }

    /** Move to a device ("cpu", "cuda", "cuda:1"). */
    public Tensor to(String targetDevice) {
        return op("tensor.to", Args.of("device", targetDevice));
    }

    public Tensor cpu() {
        return to("cpu");
    }

    public Tensor reshape(long... newShape) {
        return op("tensor.reshape", Args.of("shape", newShape));
    }

    /** A copy that owns its memory (activations handed to Java hooks are valid only during the hook). */
    public Tensor copy() {
        return op("tensor.clone", Args.of());
    }

    /** Overwrite this tensor's values in place with {@code source}'s (same shape). */
    public void copyFrom(Tensor source) {
        lens().call("tensor.copy_", Args.of("tensor", ref(), "source", source.ref()).map(), List.of(), null);
    }

    /** The single value of a one-element tensor. */
    public double item() {
        return lens().call("tensor.item", Map.of("tensor", ref()), List.of(), null).value().asDouble();
    }

    // -- materialization ------------------------------------------------------------------

    /** The data as it arrives, before conversion: the dtype's raw little-endian bytes, yours to keep. */
    public Blob toBlob() {
        Reply r = lens().call("tensor.to_array", Map.of("tensor", ref()), List.of(), null);
        return r.blobs().get(0);
    }

    /** The data converted by {@code convert} straight from the engine's transfer memory: one copy, not two. */
    private <T> T read(Function<Blob, T> convert) {
        return lens().callAndRead("tensor.to_array", Map.of("tensor", ref()), reply -> convert.apply(reply.blobs().get(0)));
    }

    /** All elements in row-major order, converted to float. */
    public float[] toFloatArray() {
        return read(Tensors::floats);
    }

    /**
     * Fill an array you own with all elements (row-major, converted to float) and return it.
     * Reusing one array in a loop avoids allocating (and page-faulting) a new one per read,
     * which is what bounds throughput for tensors of many MiB.
     */
    public float[] toFloatArray(float[] into) {
        return read(blob -> Tensors.floatsInto(blob, into));
    }

    public double[] toDoubleArray() {
        return read(Tensors::doubles);
    }

    /** All elements as longs; integer and bool tensors only. */
    public long[] toLongArray() {
        return read(Tensors::longs);
    }

    public int[] toIntArray() {
        return read(Tensors::ints);
    }

    public boolean[] toBooleanArray() {
        return read(Tensors::booleans);
    }

    /** A 2-d tensor as {@code float[rows][cols]}. */
    public float[][] toFloatArray2() {
        requireDims(2);
        float[] flat = toFloatArray();
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        float[][] out = new float[rows][cols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(flat, r * cols, out[r], 0, cols);
        }
        return out;
    }

    public float[][][] toFloatArray3() {
        requireDims(3);
        float[] flat = toFloatArray();
        int a = (int) shape[0];
        int b = (int) shape[1];
        int c = (int) shape[2];
        float[][][] out = new float[a][b][c];
        for (int i = 0; i < a; i++) {
            for (int j = 0; j < b; j++) {
                System.arraycopy(flat, (i * b + j) * c, out[i][j], 0, c);
            }
        }
        return out;
    }

    public float[][][][] toFloatArray4() {
        requireDims(4);
        float[] flat = toFloatArray();
        int a = (int) shape[0];
        int b = (int) shape[1];
        int c = (int) shape[2];
        int d = (int) shape[3];
        float[][][][] out = new float[a][b][c][d];
        for (int i = 0; i < a; i++) {
            for (int j = 0; j < b; j++) {
                for (int k = 0; k < c; k++) {
                    System.arraycopy(flat, ((i * b + j) * c + k) * d, out[i][j][k], 0, d);
                }
            }
        }
        return out;
    }

    public double[][] toDoubleArray2() {
        requireDims(2);
        double[] flat = toDoubleArray();
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        double[][] out = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(flat, r * cols, out[r], 0, cols);
        }
        return out;
    }

    private void requireDims(int n) {
        if (shape.length != n) {
            throw new IllegalStateException("this tensor has shape " + Arrays.toString(shape) + " (" + shape.length
                    + " dims); the " + n + "-d form needs exactly " + n + " dims: select or reshape first");
        }
    }

    /** Shape, dtype, device and a torch-style preview of the values (for JShell). */
    @Override
    public String toString() {
        String head = "Tensor[" + dtype + " " + Arrays.toString(shape) + " " + device + "]";
        if (isClosed()) {
            return head + " (closed)";
        }
        try {
            return head + "\n" + lens().call("tensor.repr", Map.of("tensor", ref()), List.of(), null).value().asText();
        } catch (LensException e) {
            return head + " (preview unavailable: " + e.getMessage() + ")";
        }
    }
}
