package org.lens4j.data;

import org.lens4j.internal.Tensors;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lens4j.DType;
import org.lens4j.Blob;
import org.lens4j.engine.Json;

/**
 * .npy and .npz between Java and numpy (the project's venv, one Python process for the class):
 * every lens4j dtype and shape (0-d and empty included) written by Java and read by numpy.load,
 * and every numpy file read by Java, compared byte for byte; files Java must refuse.
 */
class NpyTest {
    static final Map<String, long[]> SHAPES = new LinkedHashMap<>();

    static {
        SHAPES.put("0d", new long[] {});
        SHAPES.put("empty", new long[] {0});
        SHAPES.put("empty3", new long[] {2, 0, 3});
        SHAPES.put("v", new long[] {5});
        SHAPES.put("m", new long[] {2, 3});
        SHAPES.put("t", new long[] {2, 3, 4});
    }

    @TempDir
    static Path dir;
    static JsonNode report;
    static Path numpyDir;
    static JsonNode manifest;
    /** what numpy must find in each Java-written file: [dtype as numpy writes it, hex of the data] */
    static final Map<String, String[]> expected = new LinkedHashMap<>();
    static final Map<String, long[]> expectedShape = new LinkedHashMap<>();

    /** Deterministic values of every kind the dtype has: signed zero, NaN, infinities, subnormals, extremes. */
    static Blob sample(DType dtype, long[] shape) {
        int n = (int) Blob.numel(shape);
        double[] floats = {0.0, -0.0, 1.5, -2.25, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 1e-7, 3.140625, 65504, 0.1};
        ByteBuffer b = ByteBuffer.allocate(n * dtype.itemSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            double f = floats[i % floats.length];
            switch (dtype) {
                case FLOAT32 -> b.putFloat((float) f);
                case FLOAT64 -> b.putDouble(f);
                case FLOAT16 -> b.putShort(Float.floatToFloat16((float) f));
                case BFLOAT16 -> b.putShort((short) (Float.floatToRawIntBits((float) f) >>> 16));
                case INT64 -> b.putLong(new long[] {0, 1, Long.MAX_VALUE, Long.MIN_VALUE, 42, -7}[i % 6]);
                case INT32 -> b.putInt(new int[] {0, 1, Integer.MAX_VALUE, Integer.MIN_VALUE, 42, -7}[i % 6]);
                case INT16 -> b.putShort(new short[] {0, 1, Short.MAX_VALUE, Short.MIN_VALUE, 42, -7}[i % 6]);
                case INT8 -> b.put(new byte[] {0, 1, Byte.MAX_VALUE, Byte.MIN_VALUE, 42, -7}[i % 6]);
                case UINT8 -> b.put((byte) new int[] {0, 1, 255, 128, 42, 7}[i % 6]);
                case BOOL -> b.put((byte) (i % 3 == 1 ? 0 : 1));
            }
        }
        b.flip();
        return new Blob(dtype.wireName(), shape, b);
    }

    static String numpyDtype(String dtype) {
        return switch (dtype) {
            case "float32", "bfloat16" -> "<f4";
            case "float64" -> "<f8";
            case "float16" -> "<f2";
            case "int64" -> "<i8";
            case "int32" -> "<i4";
            case "int16" -> "<i2";
            case "int8" -> "|i1";
            case "uint8" -> "|u1";
            case "bool" -> "|b1";
            default -> throw new IllegalArgumentException(dtype);
        };
    }

    static void javaWrites(String name, Blob expectedAsNumpySeesIt, Runnable write) {
        write.run();
        expected.put(name, new String[] {numpyDtype(expectedAsNumpySeesIt.dtype()), Numpy.hex(expectedAsNumpySeesIt)});
        expectedShape.put(name, expectedAsNumpySeesIt.shape());
    }

    @BeforeAll
    static void writeBothWays() throws Exception {
        Path java = Files.createDirectories(dir.resolve("java"));
        for (DType d : DType.values()) {
            for (Map.Entry<String, long[]> s : SHAPES.entrySet()) {
                Blob blob = sample(d, s.getValue());
                // bfloat16 is written as float32: numpy must see the exact widening
                Blob seen = d == DType.BFLOAT16 ? Tensors.blob(Tensors.floats(blob), blob.shape()) : blob;
                String name = d.wireName() + "_" + s.getKey() + ".npy";
                javaWrites(name, seen, () -> Npy.write(java.resolve(name), blob));
            }
        }
        float[] f = {1.5f, -0f, Float.NaN, 3};
        javaWrites("arr_float.npy", Tensors.blob(f, new long[] {2, 2}), () -> Npy.write(java.resolve("arr_float.npy"), f, 2, 2));
        double[] dd = {Math.PI, -1e300, Double.MIN_VALUE};
        javaWrites("arr_double.npy", Tensors.blob(dd, new long[] {3}), () -> Npy.write(java.resolve("arr_double.npy"), dd));
        long[] l = {Long.MIN_VALUE, 0, Long.MAX_VALUE};
        javaWrites("arr_long.npy", Tensors.blob(l, new long[] {3, 1}), () -> Npy.write(java.resolve("arr_long.npy"), l, 3, 1));
        int[] i = {-5, 6};
        javaWrites("arr_int.npy", Tensors.blob(i, new long[] {2}), () -> Npy.write(java.resolve("arr_int.npy"), i));
        short[] sh = {-300, 300};
        javaWrites("arr_short.npy", Tensors.blob(sh, new long[] {2}), () -> Npy.write(java.resolve("arr_short.npy"), sh));
        byte[] by = {-128, 127, 0};
        javaWrites("arr_byte.npy", Tensors.blob(by, new long[] {3}), () -> Npy.write(java.resolve("arr_byte.npy"), by));
        boolean[] bo = {true, false, true};
        javaWrites("arr_bool.npy", Tensors.blob(bo, new long[] {3}), () -> Npy.write(java.resolve("arr_bool.npy"), bo));
        float[] scalar = {2.5f};
        javaWrites("arr_scalar.npy", Tensors.blob(scalar, new long[] {}), () -> Npy.write(java.resolve("arr_scalar.npy"), scalar));
        float[][] f2 = {{1, 2, 3}, {4, 5, 6}};
        javaWrites("arr_float2.npy", Tensors.blob(new float[] {1, 2, 3, 4, 5, 6}, new long[] {2, 3}), () -> Npy.write(java.resolve("arr_float2.npy"), f2));
        double[][] d2 = {{1}, {-2}};
        javaWrites("arr_double2.npy", Tensors.blob(new double[] {1, -2}, new long[] {2, 1}), () -> Npy.write(java.resolve("arr_double2.npy"), d2));
        javaWrites("arr_double2_empty.npy", Tensors.blob(new double[0], new long[] {0, 0}),
                () -> Npy.write(java.resolve("arr_double2_empty.npy"), new double[0][]));

        Map<String, Object> npz = new LinkedHashMap<>();
        npz.put("blocks.0.hook_resid_pre", sample(DType.FLOAT32, new long[] {1, 3, 4}));
        npz.put("nested/ids", sample(DType.INT64, new long[] {4}));
        npz.put("half", sample(DType.FLOAT16, new long[] {}));
        Npz.write(java.resolve("stored.npz"), npz);
        Npz.write(java.resolve("deflated.npz"), npz, true);

        report = Numpy.run(java, dir.resolve("py"));
        numpyDir = dir.resolve("py/numpy");
        manifest = Json.MAPPER.readTree(Files.readString(numpyDir.resolve("manifest.json")));
    }

    @Test
    void numpyReadsEveryDtypeAndShapeJavaWrites() {
        assertEquals(expected.size(), report.get("npy").size(), "numpy read every file Java wrote");
        assertTrue(expected.size() >= DType.values().length * SHAPES.size());
        for (Map.Entry<String, String[]> e : expected.entrySet()) {
            JsonNode got = report.get("npy").get(e.getKey());
            assertEquals(e.getValue()[0], got.get("dtype").asText(), e.getKey() + " dtype");
            assertArrayEquals(expectedShape.get(e.getKey()), Json.MAPPER.convertValue(got.get("shape"), long[].class), e.getKey() + " shape");
            assertEquals(e.getValue()[1], got.get("hex").asText(), e.getKey() + " bytes");
            assertEquals("1.0", got.get("version").asText(), e.getKey() + " header version");
        }
    }

    @Test
    void numpyLoadsJavaNpzWithItsKeys() throws Exception {
        for (String file : List.of("stored.npz", "deflated.npz")) {
            JsonNode z = report.get("npz").get(file);
            assertEquals(List.of("blocks.0.hook_resid_pre", "nested/ids", "half"), fieldNames(z), file);
            assertEquals(Numpy.hex(sample(DType.FLOAT32, new long[] {1, 3, 4})), z.get("blocks.0.hook_resid_pre").get("hex").asText());
            assertEquals("<i8", z.get("nested/ids").get("dtype").asText());
            assertEquals(0, z.get("half").get("shape").size(), "0-d survives in an npz");
            assertEquals(Numpy.hex(sample(DType.FLOAT16, new long[] {})), z.get("half").get("hex").asText());
        }
        try (var zip = new java.util.zip.ZipFile(dir.resolve("java/stored.npz").toFile())) {
            assertTrue(zip.stream().allMatch(e -> e.getMethod() == ZipEntry.STORED), "stored entries");
        }
        try (var zip = new java.util.zip.ZipFile(dir.resolve("java/deflated.npz").toFile())) {
            assertTrue(zip.stream().allMatch(e -> e.getMethod() == ZipEntry.DEFLATED), "deflated entries");
        }
    }

    static List<String> fieldNames(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    static String wireName(String numpy) {
        return switch (numpy.substring(1)) {
            case "f4" -> "float32";
            case "f8" -> "float64";
            case "f2" -> "float16";
            case "i8" -> "int64";
            case "i4" -> "int32";
            case "i2" -> "int16";
            case "i1" -> "int8";
            case "u1" -> "uint8";
            case "b1" -> "bool";
            default -> throw new IllegalArgumentException(numpy);
        };
    }

    @Test
    void javaReadsEveryNumpyFileIncludingBigEndianFortranAndEveryVersion() throws Exception {
        int npy = 0;
        for (String name : fieldNames(manifest)) {
            JsonNode want = manifest.get(name);
            if (!name.endsWith(".npy")) {
                continue;
            }
            npy++;
            Blob got = Npy.read(numpyDir.resolve(name));
            assertEquals(wireName(want.get("dtype").asText()), got.dtype(), name + " dtype");
            assertArrayEquals(Json.MAPPER.convertValue(want.get("shape"), long[].class), got.shape(), name + " shape");
            assertEquals(want.get("hex").asText(), Numpy.hex(got), name + " values, in C order, little-endian");
            Blob fromStream = Npy.fromBytes(Files.readAllBytes(numpyDir.resolve(name)));
            assertEquals(Numpy.hex(got), Numpy.hex(fromStream), name + " from a stream");
        }
        assertTrue(npy >= 9 * SHAPES.size() + 9, "every numpy fixture was read: " + npy);
        assertEquals("1.0", manifest.get("v1_f4.npy").get("version").asText());
        assertEquals("2.0", manifest.get("v2_i4.npy").get("version").asText());
        assertEquals("3.0", manifest.get("v3_f8.npy").get("version").asText());
        assertEquals(">f4", manifest.get("big_f4.npy").get("dtype").asText());
        assertTrue(Files.readString(numpyDir.resolve("fortran_i2.npy"), StandardCharsets.ISO_8859_1).contains("'fortran_order': True"));
        // spot values through the conversions, beyond the byte comparison
        assertArrayEquals(new float[] {0f, -0f, 1.5f, -2.25f, Float.NaN, Float.POSITIVE_INFINITY}, Npy.readFloats(numpyDir.resolve("big_f4.npy")));
        assertArrayEquals(new long[] {0, 1, Long.MAX_VALUE, Long.MIN_VALUE}, Npy.readLongs(numpyDir.resolve("big_i8.npy")));
        assertArrayEquals(new int[] {0, 1, 255, 0, 42, 254}, Npy.readInts(numpyDir.resolve("u1_m.npy")));
        assertArrayEquals(new boolean[] {true, false, true, true, false}, Npy.readBooleans(numpyDir.resolve("b1_v.npy")));
        assertEquals(0, Npy.readDoubles(numpyDir.resolve("f8_empty3.npy")).length);
    }

    @Test
    void javaReadsNumpyNpz() {
        for (String file : List.of("stored.npz", "deflated.npz")) {
            Map<String, Blob> got = Npz.read(numpyDir.resolve(file));
            JsonNode want = manifest.get(file);
            assertEquals(fieldNames(want), new ArrayList<>(got.keySet()), file + " keys");
            for (String k : got.keySet()) {
                assertEquals(want.get(k).get("hex").asText(), Numpy.hex(got.get(k)), file + " " + k);
                assertEquals(wireName(want.get(k).get("dtype").asText()), got.get(k).dtype());
            }
        }
    }

    @Test
    void numpyFilesJavaRefusesSayWhatIsSupported() {
        Map<String, List<String>> cases = Map.of(
                "bad_complex.npy", List.of("'<c8'", "float32 (<f4)"),
                "bad_object.npy", List.of("object array", "never unpickles"),
                "bad_structured.npy", List.of("structured dtype", "float32 (<f4)"),
                "bad_unicode.npy", List.of("'<U3'"),
                "bad_uint16.npy", List.of("'<u2'", "uint8 (|u1)"),
                "bad_datetime.npy", List.of("'<M8[ns]'"));
        cases.forEach((file, words) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npy.read(numpyDir.resolve(file)), file);
            for (String w : words) {
                assertTrue(e.getMessage().contains(w), file + ": '" + e.getMessage() + "' should mention " + w);
            }
        });
    }

    static byte[] npyWithHeader(int major, String dict, int dataBytes) {
        byte[] text = dict.getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(12 + text.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        if (major == 1) {
            b.putShort((short) text.length);
        } else {
            b.putInt(text.length);
        }
        b.put(text);
        return Arrays.copyOf(b.array(), b.position() + dataBytes);
    }

    @Test
    void badFilesAreClearErrors() throws IOException {
        record Case(byte[] bytes, String says) {
        }
        List<Case> cases = List.of(
                new Case("PK\u0003\u0004 not numpy".getBytes(StandardCharsets.ISO_8859_1), "does not start with \\x93NUMPY"),
                new Case(new byte[] {(byte) 0x93, 'N', 'U'}, "does not start with"),
                new Case(npyWithHeader(4, "{}", 0), "version 4.0; lens4j reads 1.0, 2.0 and 3.0"),
                new Case(npyWithHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8), "truncated"),
                new Case(npyWithHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [3], }", 12), "shape must be a tuple"),
                new Case(npyWithHeader(1, "{'descr': '<f4', 'shape': (3,), }", 12), "exactly the keys"),
                new Case(npyWithHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 12), "non-negative"),
                new Case(npyWithHeader(1, "{'descr': '<f4', 'fortran_order': __import__('os').system('false'), 'shape': (3,)}", 12),
                        "not a Python dict literal"),
                new Case(npyWithHeader(1, "{'descr': '=f4', 'fortran_order': False, 'shape': (1,), }", 4), "byte order '='"),
                new Case(npyWithHeader(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }", 0), "up to 2 GiB"));
        for (Case c : cases) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npy.fromBytes(c.bytes()), c.says());
            assertTrue(e.getMessage().contains(c.says()), "'" + e.getMessage() + "' should say " + c.says());
        }
        Path truncated = dir.resolve("truncated.npy");
        Files.write(truncated, cases.get(3).bytes());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Npy.read(truncated)).getMessage().contains("12 data bytes, the file has 8"));

        Path notZip = dir.resolve("not.npz");
        Files.writeString(notZip, "hello");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Npz.read(notZip)).getMessage().contains("not an .npz"));
        Path extra = dir.resolve("extra.npz");
        try (OutputStream o = Files.newOutputStream(extra); ZipOutputStream z = new ZipOutputStream(o)) {
            z.putNextEntry(new ZipEntry("a.npy"));
            z.write(Npy.toBytes(Tensors.blob(new int[] {1}, new long[] {1})));
            z.putNextEntry(new ZipEntry("evil.pkl"));
            z.write(1);
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Npz.read(extra)).getMessage().contains("'evil.pkl', which is not an .npy"));
        assertThrows(IllegalArgumentException.class, () -> Npz.write(dir.resolve("x.npz"), Map.of("../up", Tensors.blob(new int[] {1}, new long[] {1}))));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Npz.write(dir.resolve("x.npz"), Map.of("a", new float[] {1})))
                .getMessage().contains("holds Blobs and Tensors"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Npy.write(dir.resolve("r.npy"), new float[][] {{1, 2}, {3}}))
                .getMessage().contains("rectangular"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Npy.write(dir.resolve("s.npy"), new float[] {1, 2, 3}, 2, 2))
                .getMessage().contains("holds 4 elements, but the array has 3"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Npy.readLongs(numpyDir.resolve("f4_v.npy")))
                .getMessage().contains("cannot be read as integers"));
    }

    @Test
    void everyDtypeRoundTripsInJavaAndBfloat16BecomesFloat32() {
        for (DType d : DType.values()) {
            for (long[] shape : SHAPES.values()) {
                Blob blob = sample(d, shape);
                Blob back = Npy.fromBytes(Npy.toBytes(blob));
                assertArrayEquals(shape, back.shape());
                if (d == DType.BFLOAT16) {
                    assertEquals("float32", back.dtype());
                    assertArrayEquals(Tensors.floats(blob), Tensors.floats(back), "bfloat16 widens exactly");
                } else {
                    assertEquals(d.wireName(), back.dtype());
                    assertEquals(Numpy.hex(blob), Numpy.hex(back));
                }
                assertEquals(0, (Npy.toBytes(blob).length - back.nbytes()) % 64, "the data starts 64-byte aligned");
            }
        }
    }
}
