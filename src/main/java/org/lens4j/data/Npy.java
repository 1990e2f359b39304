package org.lens4j.data;

import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.lens4j.Blob;
import org.lens4j.Lens;
import org.lens4j.Tensor;
import org.lens4j.internal.Tensors;

/**
 * NumPy's {@code .npy} format, written and read in Java: a {@link Blob}, a {@link Tensor} or a
 * Java array to a file that {@code numpy.load} reads, and a numpy-written file back to a blob,
 * array or tensor.
 *
 * <p>Writing: little-endian, C order, a version 1.0 header (2.0 only if the header would not fit
 * in 1.0's 64 KiB, which no lens4j shape reaches). Every lens4j dtype maps to its numpy dtype
 * ({@code <f4 <f8 <f2 <i8 <i4 <i2 |i1 |u1 |b1}) except <b>bfloat16</b>: numpy has none, so a
 * bfloat16 blob is written as {@code <f4} (float32). The widening is exact (a bfloat16 is the top
 * half of a float32), so no value changes, but the file reads back as float32; convert with
 * {@code tensor.to(DType.BFLOAT16)} if you need bfloat16 again.
 *
 * <p>Reading: versions 1.0, 2.0 and 3.0; the dtypes above, little- or big-endian (big-endian is
 * byte-swapped), C or Fortran order (Fortran order is transposed into C order), 0-d and empty
 * shapes. Anything else (complex, unsigned wider than 8 bits, strings, structured dtypes, and
 * object arrays, which numpy stores pickled) is an {@link IllegalArgumentException} that says
 * which dtypes are supported. The header is parsed as data, never evaluated, and nothing is
 * ever unpickled.
 *
 * <pre>{@code
 * try (Lens lens = Lens.start()) {
 *     Model model = lens.load("toy-ioi");
 *     Tensor logits = model.logits("When John and Mary went to the shops, John gave the bag to");
 *     Npy.write(Path.of("logits.npy"), logits);                  // numpy.load("logits.npy")
 *     Npy.write(Path.of("grid.npy"), new double[][] {{1, 2}, {3, 4}});
 *     Blob back = Npy.read(Path.of("logits.npy"));               // float32 [1, 15, 512]
 *     float[] flat = Npy.readFloats(Path.of("logits.npy"));
 *     Tensor again = Npy.readTensor(lens, Path.of("logits.npy"));
 * }
 * }</pre>
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** numpy's own limit for headers it reads without being told otherwise is 10000 bytes; this is generous and bounded. */
    private static final int MAX_HEADER = 1 << 20;
    /** lens4j's dtypes and numpy's type codes (without the byte-order character), both ways. */
    private static final Map<String, String> CODES = codes("float32", "f4", "float64", "f8", "float16", "f2", "int64", "i8",
            "int32", "i4", "int16", "i2", "int8", "i1", "uint8", "u1", "bool", "b1");
    private static final String SUPPORTED = supported();

    private Npy() {
    }

    // -- writing -------------------------------------------------------------------------

    /** The whole {@code .npy} file as bytes. */
    public static byte[] toBytes(Blob blob) {
        Blob b = writable(blob);
        byte[] header = header(b);
        byte[] out = new byte[Math.addExact(header.length, b.nbytes())];
        System.arraycopy(header, 0, out, 0, header.length);
        b.data().get(out, header.length, b.nbytes());
        return out;
    }

    /** Writes the blob to {@code out} as a {@code .npy} file; the stream stays open. */
    public static void write(OutputStream out, Blob blob) {
        Objects.requireNonNull(out, "out");
        Blob b = writable(blob);
        try {
            out.write(header(b));
            WritableByteChannel ch = Channels.newChannel(out);
            ByteBuffer data = b.data();
            while (data.hasRemaining()) {
                ch.write(data);
            }
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write a .npy stream", e);
        }
    }

    public static void write(Path file, Blob blob) {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(blob, "blob");
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            write(out, blob);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /** Materializes the tensor (one transfer from the worker) and writes it. */
    public static void write(Path file, Tensor tensor) {
        Objects.requireNonNull(tensor, "tensor");
        write(file, tensor.toBlob());
    }

    /**
     * Row-major {@code data} of the given shape; no shape means 1-d, except that one value with no
     * shape is 0-d, as {@link Lens#tensor(float[], long...)} has it (give shape 1 for a 1-d array of one).
     */
    public static void write(Path file, float[] data, long... shape) {
        write(file, Tensors.blob(data, shape));
    }

    public static void write(Path file, double[] data, long... shape) {
        write(file, Tensors.blob(data, shape));
    }

    public static void write(Path file, long[] data, long... shape) {
        write(file, Tensors.blob(data, shape));
    }

    public static void write(Path file, int[] data, long... shape) {
        write(file, Tensors.blob(data, shape));
    }

    public static void write(Path file, short[] data, long... shape) {
        write(file, Tensors.blob(data, shape));
    }

    /** Java bytes are signed: written as int8. */
    public static void write(Path file, byte[] data, long... shape) {
        write(file, Tensors.blob(data, shape));
    }

    public static void write(Path file, boolean[] data, long... shape) {
        write(file, Tensors.blob(data, shape));
    }

    /** A rectangular {@code float[rows][cols]} as a float32 array of shape (rows, cols). */
    public static void write(Path file, float[][] data) {
        int cols = columns(data, data == null ? 0 : data.length, i -> data[i] == null ? -1 : data[i].length);
        float[] flat = new float[Math.multiplyExact(data.length, cols)];
        for (int r = 0; r < data.length; r++) {
            System.arraycopy(data[r], 0, flat, r * cols, cols);
        }
        write(file, flat, data.length, cols);
    }

    /** A rectangular {@code double[rows][cols]} as a float64 array of shape (rows, cols). */
    public static void write(Path file, double[][] data) {
        int cols = columns(data, data == null ? 0 : data.length, i -> data[i] == null ? -1 : data[i].length);
        double[] flat = new double[Math.multiplyExact(data.length, cols)];
        for (int r = 0; r < data.length; r++) {
            System.arraycopy(data[r], 0, flat, r * cols, cols);
        }
        write(file, flat, data.length, cols);
    }

    private static int columns(Object data, int rows, java.util.function.IntUnaryOperator length) {
        Objects.requireNonNull(data, "data");
        int cols = rows == 0 ? 0 : length.applyAsInt(0);
        for (int r = 0; r < rows; r++) {
            if (length.applyAsInt(r) != cols) {
                throw new IllegalArgumentException("a .npy array must be rectangular: row 0 has " + cols + " values, row " + r
                        + (length.applyAsInt(r) < 0 ? " is null" : " has " + length.applyAsInt(r)));
            }
        }
        return cols;
    }

    /** bfloat16 widened to float32 (exact), everything else as it is. */
    private static Blob writable(Blob blob) {
        Objects.requireNonNull(blob, "blob");
        return blob.dtype().equals("bfloat16") ? Tensors.blob(Tensors.floats(blob), blob.shape()) : blob;
    }

    private static Map<String, String> codes(String... dtypeThenCode) {
        Map<String, String> codes = new LinkedHashMap<>();
        for (int i = 0; i < dtypeThenCode.length; i += 2) {
            codes.put(dtypeThenCode[i], dtypeThenCode[i + 1]);
        }
        return Collections.unmodifiableMap(codes);
    }

    private static String supported() {
        List<String> each = new ArrayList<>();
        CODES.keySet().forEach(dtype -> each.add(dtype + " (" + descr(dtype) + ")"));
        return String.join(", ", each) + ", little- or big-endian";
    }

    /** numpy's descr: little-endian '<', or '|' (no byte order) for one-byte types. */
    private static String descr(String dtype) {
        String code = CODES.get(dtype);
        if (code == null) {
            throw new IllegalArgumentException("no .npy dtype for '" + dtype + "'");
        }
        return (Blob.itemSize(dtype) == 1 ? "|" : "<") + code;
    }

    private static byte[] header(Blob b) {
        long[] shape = b.shape();
        StringBuilder tuple = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            tuple.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        tuple.append(shape.length == 1 ? ",)" : ")");
        String dict = "{'descr': '" + descr(b.dtype()) + "', 'fortran_order': False, 'shape': " + tuple + ", }";
        // numpy pads magic + version + length + dict + '\n' to a multiple of 64 so the data is aligned
        boolean v1 = dict.length() + 1 + 10 <= 0xFFFF;
        int prefix = v1 ? 10 : 12;
        int total = (prefix + dict.length() + 1 + 63) / 64 * 64;
        byte[] out = new byte[total];
        ByteBuffer buf = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        buf.put(MAGIC).put((byte) (v1 ? 1 : 2)).put((byte) 0);
        int headerLength = total - prefix;
        if (v1) {
            buf.putShort((short) headerLength);
        } else {
            buf.putInt(headerLength);
        }
        buf.put(dict.getBytes(StandardCharsets.US_ASCII));
        while (buf.position() < total - 1) {
            buf.put((byte) ' ');
        }
        buf.put((byte) '\n');
        return out;
    }

    // -- reading -------------------------------------------------------------------------

    /** A parsed header: the dtype, shape and layout of the data that follows it. */
    private record Header(String dtype, long[] shape, boolean bigEndian, boolean fortranOrder) {
        int nbytes() {
            long n = Math.multiplyExact(Blob.numel(shape), Blob.itemSize(dtype));
            if (n > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("the array holds " + n + " bytes; lens4j reads .npy arrays of up to 2 GiB");
            }
            return (int) n;
        }
    }

    public static Blob read(Path file) {
        Objects.requireNonNull(file, "file");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Header h = header(Channels.newInputStream(ch), file.toString());
            int n = h.nbytes();
            long left = ch.size() - ch.position();
            if (left < n) {
                throw new IllegalArgumentException(file + " is truncated: the header promises " + n + " data bytes, the file has " + left);
            }
            ByteBuffer data = ByteBuffer.allocate(n);
            while (data.hasRemaining() && ch.read(data) >= 0) {
                // a FileChannel may read less than asked
            }
            data.flip();
            return blob(h, data);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** Reads one {@code .npy} array from the stream (which stays open, positioned after the data). */
    public static Blob read(InputStream in) {
        Objects.requireNonNull(in, "in");
        try {
            Header h = header(in, "the .npy stream");
            int n = h.nbytes();
            byte[] data = in.readNBytes(n); // reads in chunks, so a lying header cannot make it allocate 2 GiB up front
            if (data.length < n) {
                throw new IllegalArgumentException("the .npy data is truncated: the header promises " + n + " bytes, found " + data.length);
            }
            return blob(h, ByteBuffer.wrap(data));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read a .npy stream", e);
        }
    }

    public static Blob fromBytes(byte[] npy) {
        return read(new ByteArrayInputStream(Objects.requireNonNull(npy, "npy")));
    }

    /** Reads the file and sends it to the worker as a tensor of the file's dtype and shape (on the CPU). */
    public static Tensor readTensor(Lens lens, Path file) {
        Objects.requireNonNull(lens, "lens");
        return lens.tensor(read(file));
    }

    /** All elements, row-major, converted to float (integers and bools too). */
    public static float[] readFloats(Path file) {
        return Tensors.floats(read(file));
    }

    public static double[] readDoubles(Path file) {
        return Tensors.doubles(read(file));
    }

    /** Integer and bool arrays only; a float array is an IllegalArgumentException. */
    public static long[] readLongs(Path file) {
        return Tensors.longs(read(file));
    }

    public static int[] readInts(Path file) {
        return Tensors.ints(read(file));
    }

    public static boolean[] readBooleans(Path file) {
        return Tensors.booleans(read(file));
    }

    private static Blob blob(Header h, ByteBuffer data) {
        int item = Blob.itemSize(h.dtype());
        if (h.bigEndian() && item > 1) {
            byte[] a = data.array();
            for (int i = 0; i < a.length; i += item) {
                for (int j = 0; j < item / 2; j++) {
                    byte t = a[i + j];
                    a[i + j] = a[i + item - 1 - j];
                    a[i + item - 1 - j] = t;
                }
            }
        }
        if (h.fortranOrder() && h.shape().length > 1) {
            data = fortranToC(data, h.shape(), item);
        }
        return new Blob(h.dtype(), h.shape(), data);
    }

    /** Fortran order is C order of the reversed shape; walk the C indices and gather each element. */
    private static ByteBuffer fortranToC(ByteBuffer src, long[] shape, int item) {
        int d = shape.length;
        long[] stride = new long[d];
        for (int k = 0; k < d; k++) {
            stride[k] = k == 0 ? 1 : stride[k - 1] * shape[k - 1];
        }
        int n = (int) Blob.numel(shape);
        byte[] in = src.array();
        byte[] out = new byte[in.length];
        long[] idx = new long[d];
        for (int c = 0; c < n; c++) {
            long f = 0;
            for (int k = 0; k < d; k++) {
                f += idx[k] * stride[k];
            }
            System.arraycopy(in, (int) f * item, out, c * item, item);
            for (int k = d - 1; k >= 0 && ++idx[k] == shape[k]; k--) {
                idx[k] = 0;
            }
        }
        return ByteBuffer.wrap(out);
    }

    private static Header header(InputStream in, String what) throws IOException {
        byte[] pre = in.readNBytes(8);
        if (pre.length < 8 || !Arrays.equals(Arrays.copyOf(pre, 6), MAGIC)) {
            throw new IllegalArgumentException(what + " is not a .npy file: it does not start with \\x93NUMPY");
        }
        int major = pre[6] & 0xFF;
        int minor = pre[7] & 0xFF;
        if (major < 1 || major > 3 || minor != 0) {
            throw new IllegalArgumentException(what + " has .npy format version " + major + "." + minor + "; lens4j reads 1.0, 2.0 and 3.0");
        }
        byte[] len = in.readNBytes(major == 1 ? 2 : 4);
        if (len.length < (major == 1 ? 2 : 4)) {
            throw new IllegalArgumentException(what + " is truncated inside the .npy header");
        }
        ByteBuffer lb = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = major == 1 ? lb.getShort() & 0xFFFF : lb.getInt() & 0xFFFFFFFFL;
        if (headerLength > MAX_HEADER) {
            throw new IllegalArgumentException(what + " has a .npy header of " + headerLength + " bytes; lens4j reads headers of up to " + MAX_HEADER);
        }
        byte[] text = in.readNBytes((int) headerLength);
        if (text.length < headerLength) {
            throw new IllegalArgumentException(what + " is truncated inside the .npy header");
        }
        String dict = new String(text, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        return parseHeader(dict.strip(), what);
    }

    private static Header parseHeader(String dict, String what) {
        Object parsed;
        try {
            HeaderParser p = new HeaderParser(dict);
            parsed = p.value();
            p.end();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + " has a .npy header that is not a Python dict literal (" + e.getMessage() + "): " + dict, e);
        }
        if (!(parsed instanceof Map<?, ?> map) || !map.keySet().equals(java.util.Set.of("descr", "fortran_order", "shape"))) {
            throw new IllegalArgumentException(what + " has a .npy header without exactly the keys descr, fortran_order and shape: " + dict);
        }
        if (!(map.get("fortran_order") instanceof Boolean fortran)) {
            throw new IllegalArgumentException(what + ": fortran_order must be True or False in " + dict);
        }
        if (!(map.get("shape") instanceof Tuple(List<Object> dims)) || !dims.stream().allMatch(x -> x instanceof Long l && l >= 0)) {
            throw new IllegalArgumentException(what + ": shape must be a tuple of non-negative integers in " + dict);
        }
        long[] shape = dims.stream().mapToLong(x -> (Long) x).toArray();
        if (!(map.get("descr") instanceof String descr)) {
            throw new IllegalArgumentException(what + " holds a structured dtype " + map.get("descr") + "; lens4j reads " + SUPPORTED);
        }
        if (descr.length() < 2) {
            throw new IllegalArgumentException(what + " has dtype '" + descr + "'; lens4j reads " + SUPPORTED);
        }
        char order = descr.charAt(0);
        String code = descr.substring(1);
        if (code.equals("O")) {
            throw new IllegalArgumentException(what + " holds an object array (dtype '" + descr + "'), which numpy stores pickled; "
                    + "lens4j never unpickles. Save a numeric array instead; lens4j reads " + SUPPORTED);
        }
        String dtype = CODES.entrySet().stream().filter(e -> e.getValue().equals(code)).map(Map.Entry::getKey).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(what + " has dtype '" + descr + "', which lens4j does not read; it reads " + SUPPORTED));
        int item = Blob.itemSize(dtype);
        boolean big = order == '>';
        if (order != '<' && order != '>' && !(item == 1 && (order == '|' || order == '='))) {
            throw new IllegalArgumentException(what + " has dtype '" + descr + "' with byte order '" + order
                    + "'; lens4j reads '<' (little-endian) and '>' (big-endian), and '|' for one-byte types");
        }
        return new Header(dtype, shape, big, fortran);
    }

    /** A parsed Python tuple, kept apart from lists so that a list shape is refused as numpy refuses it. */
    private record Tuple(List<Object> items) {
    }

    /** The subset of Python literals a .npy header uses: dicts, strings, True/False/None, integers, tuples and lists. */
    private static final class HeaderParser {
        private final String s;
        private int i;

        HeaderParser(String s) {
            this.s = s;
        }

        void end() {
            skip();
            if (i != s.length()) {
                throw new IllegalArgumentException("unexpected text at " + i);
            }
        }

        private void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private boolean take(char c) {
            skip();
            if (i < s.length() && s.charAt(i) == c) {
                i++;
                return true;
            }
            return false;
        }

        Object value() {
            skip();
            if (i >= s.length()) {
                throw new IllegalArgumentException("unexpected end");
            }
            char c = s.charAt(i);
            if (c == '{') {
                i++;
                Map<Object, Object> map = new LinkedHashMap<>();
                while (!take('}')) {
                    Object key = value();
                    if (!take(':')) {
                        throw new IllegalArgumentException("expected ':' at " + i);
                    }
                    map.put(key, value());
                    if (!take(',') && !peek('}')) {
                        throw new IllegalArgumentException("expected ',' or '}' at " + i);
                    }
                }
                return map;
            }
            if (c == '(' || c == '[') {
                i++;
                char close = c == '(' ? ')' : ']';
                List<Object> items = new ArrayList<>();
                while (!take(close)) {
                    items.add(value());
                    if (!take(',') && !peek(close)) {
                        throw new IllegalArgumentException("expected ',' or '" + close + "' at " + i);
                    }
                }
                return c == '(' ? new Tuple(items) : items;
            }
            if (c == '\'' || c == '"') {
                int end = s.indexOf(c, i + 1);
                if (end < 0 || s.substring(i + 1, end).indexOf('\\') >= 0) {
                    throw new IllegalArgumentException("unsupported string at " + i);
                }
                String out = s.substring(i + 1, end);
                i = end + 1;
                return out;
            }
            int start = i;
            while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_' || s.charAt(i) == '-')) {
                i++;
            }
            String word = s.substring(start, i);
            switch (word) {
                case "True":
                    return Boolean.TRUE;
                case "False":
                    return Boolean.FALSE;
                case "None":
                    return null;
                default:
                    break;
            }
            // Python 2 numpy wrote long dimensions as 3L
            String digits = word.endsWith("L") ? word.substring(0, word.length() - 1) : word;
            try {
                return Long.parseLong(digits);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("unexpected '" + (word.isEmpty() ? String.valueOf(c) : word) + "' at " + start);
            }
        }

        private boolean peek(char c) {
            skip();
            return i < s.length() && s.charAt(i) == c;
        }
    }
}
