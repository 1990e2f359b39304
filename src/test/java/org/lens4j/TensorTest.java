package org.lens4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Tensors: every dtype round-trips, ops compute what torch computes, materialization is exact. */
class TensorTest {
    private final Lens lens = TestLens.lens();

    @Test
    void everyDtypeRoundTrips() {
        float[] values = {0f, 1f, -2.5f, 3.25f, 100f, -0.125f};
        try (Scope scope = lens.scope()) {
            Tensor source = lens.tensor(values, 2, 3);
            for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64, DType.FLOAT16, DType.BFLOAT16}) {
                Tensor t = source.to(dtype);
                assertEquals(dtype, t.dtype());
                assertArrayEquals(new long[] {2, 3}, t.shape());
                assertArrayEquals(values, t.toFloatArray(), 0f, dtype.toString()); // exactly representable in each
            }
            long[] ints = {0, 1, -2, 3, 100, -7};
            Tensor longs = lens.tensor(ints, 2, 3);
            for (DType dtype : new DType[] {DType.INT64, DType.INT32, DType.INT16, DType.INT8}) {
                assertArrayEquals(ints, longs.to(dtype).toLongArray(), dtype.toString());
            }
            assertArrayEquals(new long[] {0, 1, 254, 3, 100, 249}, longs.to(DType.UINT8).toLongArray());
            boolean[] bools = {true, false, true};
            assertArrayEquals(bools, lens.tensor(bools, 3).toBooleanArray());
            assertArrayEquals(new int[] {1, 2, 3}, lens.tensor(new int[] {1, 2, 3}, 3).toIntArray());
            double[] doubles = {Math.PI, -Math.E};
            assertArrayEquals(doubles, lens.tensor(doubles, 2).toDoubleArray(), 0.0);
        }
    }

    @Test
    void aBlobKeepsItsDataWhenLaterCallsMoveLargeTensors() {
        // 1 Mi floats (4 MiB) go through the worker's shared-memory arena, which every exchange reuses.
        int n = 1 << 20;
        float[] ones = new float[n];
        java.util.Arrays.fill(ones, 1f);
        float[] twos = new float[n];
        java.util.Arrays.fill(twos, 2f);
        try (Scope scope = lens.scope()) {
            Tensor a = lens.tensor(ones, n);
            Tensor b = lens.tensor(twos, n);
            Blob first = a.toBlob();
            Blob second = b.toBlob();
            assertEquals(1f, first.data().getFloat(0), "the first blob still holds a's data after the second call");
            assertEquals(1f, first.data().getFloat(4 * (n - 1)));
            assertEquals(2f, second.data().getFloat(0));
            float[] fromFirst = new float[n];
            first.data().asFloatBuffer().get(fromFirst);
            assertArrayEquals(ones, fromFirst);
        }
    }

    @Test
    void twoThreadsReadingLargeTensorsEachGetTheirOwn() throws Exception {
        // Each read converts from the engine's transfer memory; another thread's call must not overwrite it first.
        int n = 1 << 20;
        try (Scope scope = lens.scope()) {
            Tensor ones = lens.tensor(new float[n], n).add(1.0);
            Tensor twos = lens.tensor(new float[n], n).add(2.0);
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
            try {
                java.util.concurrent.Callable<Integer> readOnes = () -> badReads(ones, 1f, 15);
                java.util.concurrent.Callable<Integer> readTwos = () -> badReads(twos, 2f, 15);
                var a = pool.submit(readOnes);
                var b = pool.submit(readTwos);
                assertEquals(0, a.get(120, java.util.concurrent.TimeUnit.SECONDS), "reads of 'ones' that saw another tensor's data");
                assertEquals(0, b.get(120, java.util.concurrent.TimeUnit.SECONDS), "reads of 'twos' that saw another tensor's data");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private static int badReads(Tensor t, float expected, int times) {
        int bad = 0;
        float[] into = new float[(int) t.shape()[0]];
        for (int i = 0; i < times; i++) {
            t.toFloatArray(into);
            if (into[0] != expected || into[into.length - 1] != expected) {
                bad++;
            }
        }
        return bad;
    }

    @Test
    void zeroDimAndEmptyTensors() {
        try (Scope scope = lens.scope()) {
            Tensor scalar = lens.tensor(new float[] {4.5f});
            assertEquals(4.5, scalar.sum().item());
            assertArrayEquals(new long[] {}, scalar.sum().shape());
            Tensor empty = lens.tensor(new float[0], 0, 3);
            assertArrayEquals(new long[] {0, 3}, empty.shape());
            assertEquals(0, empty.toFloatArray().length);
        }
    }

    @Test
    void opsComputeWhatTorchComputes() {
        try (Scope scope = lens.scope()) {
            Tensor t = lens.tensor(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            assertArrayEquals(new float[] {4, 5, 6}, t.select(0, -1).toFloatArray());
            assertArrayEquals(new float[] {2, 3, 5, 6}, t.slice(1, 1L, null).toFloatArray());
            assertArrayEquals(new float[] {3, 1, 6, 4}, t.index(1, -1, 0).toFloatArray());
            assertEquals(3.5, t.mean().item(), 1e-6);
            assertArrayEquals(new float[] {5, 7, 9}, t.sum(0).toFloatArray());
            assertArrayEquals(new float[] {3, 6}, t.max(1).toFloatArray());
            assertArrayEquals(new long[] {2, 2}, t.argmax(1).toLongArray());
            float[] soft = t.softmax(-1).select(0, 0).toFloatArray();
            double z = Math.exp(1) + Math.exp(2) + Math.exp(3);
            assertEquals(Math.exp(3) / z, soft[2], 1e-6);
            assertEquals(Math.log(Math.exp(1) / z), t.logSoftmax(-1).select(0, 0).toFloatArray()[0], 1e-6);
            Tensor.TopK top = t.topk(2);
            assertArrayEquals(new float[] {3, 2, 6, 5}, top.values().toFloatArray());
            assertArrayEquals(new long[] {2, 1, 2, 1}, top.indices().toLongArray());
            Tensor square = lens.tensor(new float[] {1, 2, 3, 4}, 2, 2);
            assertArrayEquals(new float[] {1, 4}, square.diagonal(0).toFloatArray());
            assertArrayEquals(new float[] {2}, square.diagonal(1).toFloatArray());
            assertArrayEquals(new float[] {7, 10, 15, 22}, square.matmul(square).toFloatArray());
            assertArrayEquals(new float[] {2, 4, 6, 8}, square.add(square).toFloatArray());
            assertArrayEquals(new float[] {0.5f, 1, 1.5f, 2}, square.div(2).toFloatArray());
            assertArrayEquals(new float[] {-1, 0, 1, 2}, square.sub(2).toFloatArray());
            assertArrayEquals(new float[] {3, 6, 9, 12}, square.mul(3).toFloatArray());
            assertArrayEquals(new float[][] {{1, 2}, {3, 4}}, square.toFloatArray2());
            assertArrayEquals(new long[] {4}, square.reshape(4).shape());
            Tensor copy = square.copy();
            copy.copyFrom(lens.tensor(new float[] {9, 9, 9, 9}, 2, 2));
            assertArrayEquals(new float[] {9, 9, 9, 9}, copy.toFloatArray());
            assertArrayEquals(new float[] {1, 2, 3, 4}, square.toFloatArray(), "copy() is independent");
        }
    }

    @Test
    void nestedArraysKeepRowMajorOrder() {
        float[] flat = new float[2 * 3 * 4 * 5];
        for (int i = 0; i < flat.length; i++) {
            flat[i] = i;
        }
        try (Tensor t = lens.tensor(flat, 2, 3, 4, 5)) {
            float[][][][] four = t.toFloatArray4();
            assertEquals(1 * 60 + 2 * 20 + 3 * 5 + 4, four[1][2][3][4]);
            float[][][] three = t.reshape(6, 4, 5).toFloatArray3();
            assertEquals(5 * 20 + 3 * 5 + 1, three[5][3][1]);
            assertThrows(IllegalStateException.class, t::toFloatArray2);
        }
    }

    @Test
    void largeTensorsTravelThroughSharedMemoryExactly() {
        int n = 16 << 20; // 64 MiB of float32, well over the 1 MiB inline limit
        float[] data = new float[n];
        for (int i = 0; i < n; i++) {
            data[i] = i * 0.5f;
        }
        try (Tensor t = lens.tensor(data, n)) {
            Blob blob = t.toBlob();
            assertEquals(4L * n, blob.nbytes());
            float[] back = t.toFloatArray();
            assertArrayEquals(data, back);
            assertEquals(n * 0.5 * (n - 1) * 0.5, t.to(DType.FLOAT64).sum().item(), 1e3);
        }
    }

    @Test
    void metadataStaysReadableAfterClose() {
        Tensor t = lens.tensor(new float[] {1, 2}, 2);
        t.close();
        assertArrayEquals(new long[] {2}, t.shape());
        assertTrue(t.isClosed());
        assertTrue(t.toString().contains("closed"));
        assertThrows(HandleClosedException.class, t::toFloatArray);
    }
}
