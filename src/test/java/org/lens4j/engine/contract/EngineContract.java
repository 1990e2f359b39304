package org.lens4j.engine.contract;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.lens4j.Blob;
import org.lens4j.CallbackFailedException;
import org.lens4j.ErrorKind;
import org.lens4j.HandleClosedException;
import org.lens4j.InvalidInputException;
import org.lens4j.LensException;
import org.lens4j.PythonException;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.Engine;
import org.lens4j.engine.Json;
import org.lens4j.engine.Reply;

/**
 * What every engine must do the same way, run against each engine by a subclass: the torch-free
 * ops (values, handles, errors, callbacks, buffers, release) everywhere, and the torch ops where
 * the engine's Python imports torch and transformer_lens (else reported as skipped, with why).
 */
abstract class EngineContract {
    static final List<String> DTYPES = List.of(
            "float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool");

    /** The engine under test, shared by the tests of the class. */
    abstract Engine engine();

    /** Named Java callbacks that the engine's handler dispatches to. */
    abstract Map<String, CallbackHandler> callbacks();

    /** Why this engine cannot run torch ops here, or null where it can. */
    abstract String torchGap();

    Reply call(String op, Map<String, ?> args) {
        return engine().call(op, args, List.of(), null);
    }

    Reply call(String op, Map<String, ?> args, List<Blob> blobs) {
        return engine().call(op, args, blobs, null);
    }

    // ------------------------------------------------------------------ values

    @Test
    void infoNamesThePythonThatRunsTheBridge() {
        JsonNode info = call("bridge.info", Map.of()).value();
        assertTrue(info.path("python").asText().matches("3\\.\\d+\\.\\d+"), info.toString());
        assertTrue(engine().isAlive());
        System.out.println("contract: " + engine().describe() + " runs " + info.path("implementation").asText()
                + " " + info.path("python").asText());
    }

    @Test
    void nestedJsonComesBackUnchanged() throws Exception {
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("text", "Grüße, 世界 \"quoted\" \\ \n tab\t");
        value.put("numbers", List.of(0, -1, Long.MAX_VALUE, Long.MIN_VALUE, 1.5, -2.25e-300, 6.02e23));
        value.put("flags", List.of(true, false));
        value.put("nothing", null);
        value.put("deep", Map.of("a", List.of(Map.of("b", List.of(List.of(), Map.of()))), "empty", ""));
        JsonNode expected = Json.MAPPER.valueToTree(value);
        JsonNode echoed = call("bridge.echo", Map.of("value", value)).value();
        assertEquals(expected, echoed.get("value"));
        assertEquals(0, echoed.get("blobs").size());
        JsonNode special = call("bridge.echo", Map.of("value", List.of(Double.NaN, Double.POSITIVE_INFINITY))).value().get("value");
        assertTrue(Double.isNaN(special.get(0).asDouble()), special.toString());
        assertEquals(Double.POSITIVE_INFINITY, special.get(1).asDouble());
    }

    // ------------------------------------------------------------------ errors

    @Test
    void anUnknownOpOrArgumentIsInvalidInputThatSaysWhatIsValid() {
        InvalidInputException op = assertThrows(InvalidInputException.class, () -> call("bridge.ech", Map.of()));
        assertEquals(ErrorKind.UNKNOWN_OP, op.kind());
        assertTrue(op.getMessage().contains("bridge.echo"), op.getMessage());
        InvalidInputException arg = assertThrows(InvalidInputException.class,
                () -> call("bridge.make_blob", Map.of("dtype", "float32", "shap", List.of(2))));
        assertEquals(ErrorKind.BAD_ARGUMENT, arg.kind());
        assertTrue(arg.getMessage().contains("shap") && arg.getMessage().contains("valid arguments"), arg.getMessage());
    }

    @Test
    void anErrorsDetailsArriveAsJavaValues() {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("nearest", List.of("blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"));
        details.put("valid", Map.of("min", -2, "max", 1));
        details.put("got", 7);
        details.put("shape", List.of(2, 3));
        details.put("expected", java.util.Arrays.asList(3, null));
        details.put("tokens", List.of(" John", " and"));
        details.put("argument", "layer");
        for (String kind : List.of("unknown_hook", "shape_mismatch", "python_error")) {
            LensException e = assertThrows(LensException.class,
                    () -> call("bridge.fail", Map.of("kind", kind, "message", "with details", "details", details)));
            Map<String, Object> expected = new LinkedHashMap<>(details);
            expected.put("valid", Map.of("min", -2L, "max", 1L));
            expected.put("got", 7L);
            expected.put("shape", List.of(2L, 3L));
            expected.put("expected", java.util.Arrays.asList(3L, null));
            // a python_error is a plain RuntimeError in Python: it has no details to send
            assertEquals(kind.equals("python_error") ? Map.of() : expected, e.details(), kind);
        }
        InvalidInputException op = assertThrows(InvalidInputException.class, () -> call("bridge.ech", Map.of()));
        assertEquals("bridge.echo", ((List<?>) op.details().get("nearest")).get(0), op.details().toString());
    }

    @Test
    void everyErrorKindBecomesItsJavaException() {
        Map<String, Class<? extends LensException>> expected = new LinkedHashMap<>();
        expected.put("bad_argument", InvalidInputException.class);
        expected.put("unknown_hook", InvalidInputException.class);
        expected.put("not_single_token", InvalidInputException.class);
        expected.put("shape_mismatch", InvalidInputException.class);
        expected.put("unknown_model", InvalidInputException.class);
        expected.put("closed_handle", HandleClosedException.class);
        expected.put("missing_module", PythonException.class);
        expected.put("out_of_memory", PythonException.class);
        expected.put("python_error", PythonException.class);
        expected.put("callback_failed", CallbackFailedException.class);
        for (var e : expected.entrySet()) {
            String message = "asked for " + e.getKey();
            LensException thrown = assertThrows(LensException.class,
                    () -> call("bridge.fail", Map.of("kind", e.getKey(), "message", message)));
            assertInstanceOf(e.getValue(), thrown, e.getKey());
            assertEquals(ErrorKind.fromWire(e.getKey()), thrown.kind());
            assertTrue(thrown.getMessage().contains(message), thrown.getMessage());
        }
        PythonException python = assertThrows(PythonException.class, () -> call("bridge.fail", Map.of("message", "boom")));
        assertEquals("RuntimeError", python.pythonType());
        assertTrue(python.pythonTraceback().contains("raise RuntimeError(message)"), python.pythonTraceback());
        assertTrue(engine().isAlive());
        assertEquals("still here", call("bridge.echo", Map.of("value", "still here")).value().get("value").asText());
    }

    // ------------------------------------------------------------------ handles

    @Test
    void handlesResolveInLaterCallsAndReleaseFreesThem() {
        int before = call("bridge.handles", Map.of()).value().get("count").asInt();
        long a = call("bridge.hold", Map.of("value", Map.of("name", "a"))).value().get("$h").asLong();
        long b = call("bridge.hold", Map.of("value", List.of(1, 2, 3))).value().get("$h").asLong();
        long c = call("bridge.hold", Map.of("value", "c")).value().get("$h").asLong();
        assertEquals(before + 3, call("bridge.handles", Map.of()).value().get("count").asInt());
        assertEquals(List.of(1, 2, 3), Json.MAPPER.convertValue(
                call("bridge.echo", Map.of("value", Map.of("$h", b))).value().get("value"), List.class));

        engine().release(new long[] {a, b}, true);
        assertEquals(before + 1, call("bridge.handles", Map.of()).value().get("count").asInt());
        HandleClosedException closed = assertThrows(HandleClosedException.class,
                () -> call("bridge.echo", Map.of("value", Map.of("$h", a))));
        assertTrue(closed.getMessage().contains(String.valueOf(a)), closed.getMessage());
        assertEquals(1, call("bridge.release", Map.of("handles", List.of(c, 999_999))).value().asInt());
        assertEquals(before, call("bridge.handles", Map.of()).value().get("count").asInt());
    }

    @Test
    void aDeferredReleaseGoesWithTheNextCall() {
        long h = call("bridge.hold", Map.of("value", 7)).value().get("$h").asLong();
        int held = call("bridge.handles", Map.of()).value().get("count").asInt();
        engine().release(new long[] {h}, false);
        assertEquals(held - 1, call("bridge.handles", Map.of()).value().get("count").asInt());
    }

    // ------------------------------------------------------------------ callbacks

    @Test
    void javaLambdasAreCalledFromPythonWithTheirArguments() {
        callbacks().put("square", (name, args, blobs) -> args.get("call").asInt() * args.get("call").asInt());
        callbacks().put("describe", (name, args, blobs) -> Map.of("name", name, "x", args.get("x").asText(), "none", blobs.size()));
        assertEquals(List.of(0, 1, 4, 9), Json.MAPPER.convertValue(
                call("bridge.callback", Map.of("name", "square", "repeat", 4)).value(), List.class));
        JsonNode d = call("bridge.callback", Map.of("name", "describe", "args", Map.of("x", "ü"))).value().get(0);
        assertEquals("describe", d.get("name").asText());
        assertEquals("ü", d.get("x").asText());
        assertEquals(0, d.get("none").asInt());
    }

    @Test
    void aCallbackMayAnswerWithAHandle() {
        long h = call("bridge.hold", Map.of("value", Map.of("from", "handle"))).value().get("$h").asLong();
        callbacks().put("handle", (name, args, blobs) -> Map.of("$h", h));
        JsonNode answers = call("bridge.callback", Map.of("name", "handle", "repeat", 2)).value();
        assertEquals("handle", answers.get(1).get("from").asText());
        engine().release(new long[] {h}, true);
    }

    @Test
    void callbacksNestAndMayCallTheEngineAgain() {
        List<Integer> depths = new ArrayList<>();
        callbacks().put("inner", (name, args, blobs) -> args.get("call").asInt() * 10);
        callbacks().put("outer", (name, args, blobs) -> {
            JsonNode inner = call("bridge.callback", Map.of("name", "inner", "repeat", 2)).value();
            depths.add(inner.size());
            return Map.of("outer", args.get("call").asInt(), "inner", inner);
        });
        JsonNode result = call("bridge.callback", Map.of("name", "outer", "repeat", 3)).value();
        assertEquals(3, result.size());
        assertEquals(2, result.get(2).get("outer").asInt());
        assertEquals(10, result.get(1).get("inner").get(1).asInt());
        assertEquals(List.of(2, 2, 2), depths);
    }

    @Test
    void anExceptionInACallbackReachesTheCallerAsItsCause() {
        callbacks().put("throws", (name, args, blobs) -> {
            throw new IllegalStateException("thrown in Java");
        });
        CallbackFailedException e = assertThrows(CallbackFailedException.class,
                () -> call("bridge.callback", Map.of("name", "throws")));
        assertInstanceOf(IllegalStateException.class, e.getCause());
        assertEquals("thrown in Java", e.getCause().getMessage());
        CallbackFailedException unknown = assertThrows(CallbackFailedException.class,
                () -> call("bridge.callback", Map.of("name", "no-such-callback")));
        assertInstanceOf(UnsupportedOperationException.class, unknown.getCause());
        assertTrue(engine().isAlive());
        assertEquals(3, call("bridge.echo", Map.of("value", 3)).value().get("value").asInt());
    }

    // ------------------------------------------------------------------ buffers

    @Test
    void pythonBuffersOfEveryDtypeArriveWhole() {
        for (String dtype : DTYPES) {
            Reply r = call("bridge.make_blob", Map.of("dtype", dtype, "shape", List.of(2, 3), "fill", 0xA5));
            assertEquals(0, r.value().get("$blob").asInt(), dtype);
            Blob blob = r.blobs().get(0);
            assertEquals(dtype, blob.dtype());
            assertArrayEquals(new long[] {2, 3}, blob.shape());
            assertEquals(6 * Blob.itemSize(dtype), blob.nbytes(), dtype);
            ByteBuffer data = blob.data();
            while (data.hasRemaining()) {
                assertEquals((byte) 0xA5, data.get(), dtype);
            }
        }
        Blob scalar = call("bridge.make_blob", Map.of("dtype", "float64", "shape", List.of(), "fill", 1)).blobs().get(0);
        assertEquals(8, scalar.nbytes());
        Blob empty = call("bridge.make_blob", Map.of("dtype", "int32", "shape", List.of(0, 4))).blobs().get(0);
        assertEquals(0, empty.nbytes());
    }

    @Test
    void javaBuffersOfEveryDtypeGoAndComeBackUnchanged() {
        List<Blob> sent = new ArrayList<>();
        for (String dtype : DTYPES) {
            sent.add(patterned(dtype, new long[] {3, 2}, dtype.length()));
        }
        sent.add(patterned("float32", new long[] {}, 1));
        sent.add(patterned("int64", new long[] {0, 5}, 2));
        List<Map<String, Integer>> refs = new ArrayList<>();
        for (int i = 0; i < sent.size(); i++) {
            refs.add(Map.of("$blob", i));
        }
        Reply r = call("bridge.echo", Map.of("blobs", refs), sent);
        assertEquals(sent.size(), r.blobs().size());
        for (int i = 0; i < sent.size(); i++) {
            Blob in = sent.get(i);
            Blob out = r.blobs().get(i);
            assertEquals(in.dtype(), out.dtype());
            assertArrayEquals(in.shape(), out.shape());
            assertEquals(in.data(), out.data(), in.toString());
            assertEquals(i, r.value().get("blobs").get(i).get("$blob").asInt());
        }
    }

    @Test
    void aLargeBufferCrossesBothWays() {
        int n = 2_000_003; // float32: about 8 MB, over the worker's shared-memory threshold, odd-sized
        ByteBuffer bytes = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            bytes.putFloat(i * 0.5f - 7);
        }
        bytes.flip();
        Blob sent = new Blob("float32", new long[] {n}, bytes);
        Blob back = call("bridge.echo", Map.of("blobs", List.of(Map.of("$blob", 0))), List.of(sent)).blobs().get(0);
        float[] floats = new float[n];
        back.data().asFloatBuffer().get(floats);
        assertEquals(-7f, floats[0]);
        assertEquals((n - 1) * 0.5f - 7, floats[n - 1]);
        assertEquals(sent.data(), back.data());
        Blob made = call("bridge.make_blob", Map.of("dtype", "uint8", "shape", List.of(8 << 20), "fill", 3)).blobs().get(0);
        assertEquals(8 << 20, made.nbytes());
        assertEquals(3, made.data().get((8 << 20) - 1));
    }

    static Blob patterned(String dtype, long[] shape, int seed) {
        int n = (int) Blob.numel(shape) * Blob.itemSize(dtype);
        ByteBuffer b = ByteBuffer.allocate(n);
        for (int i = 0; i < n; i++) {
            b.put((byte) (dtype.equals("bool") ? (i + seed) % 2 : i * 31 + seed * 7));
        }
        b.flip();
        return new Blob(dtype, shape, b);
    }

    // ------------------------------------------------------------------ torch

    private void requireTorch() {
        String gap = torchGap();
        if (gap != null) {
            System.out.println("contract: SKIPPED torch op on " + engine().describe() + ": " + gap);
        }
        Assumptions.assumeTrue(gap == null, () -> "skipped: " + gap);
    }

    @Test
    void torchTensorsAreHandlesWhoseDataComesBack() {
        requireTorch();
        ByteBuffer data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 6; i++) {
            data.putFloat(i);
        }
        data.flip();
        JsonNode t = call("tensor.from_blob", Map.of("data", Map.of("$blob", 0)), List.of(new Blob("float32", new long[] {2, 3}, data))).value();
        assertEquals(List.of(2, 3), Json.MAPPER.convertValue(t.get("shape"), List.class));
        assertEquals("float32", t.get("dtype").asText());
        JsonNode sum = call("tensor.arith", Map.of("tensor", Map.of("$h", t.get("$tensor").asLong()), "fn", "add",
                "other", List.of(10, 20, 30))).value();
        Blob out = call("tensor.to_array", Map.of("tensor", Map.of("$h", sum.get("$tensor").asLong()))).blobs().get(0);
        float[] values = new float[6];
        out.data().asFloatBuffer().get(values);
        assertArrayEquals(new float[] {10, 21, 32, 13, 24, 35}, values);
        engine().release(new long[] {t.get("$tensor").asLong(), sum.get("$tensor").asLong()}, true);
    }

    @Test
    void aTransformerLensModelRunsThroughTheBridge() {
        requireTorch();
        Map<String, Object> config = Map.of("n_layers", 1, "d_model", 16, "n_heads", 2, "d_head", 8, "d_mlp", 32,
                "d_vocab", 50, "n_ctx", 8, "act_fn", "gelu", "model_name", "contract-native");
        JsonNode model = call("model.native", Map.of("config", config, "device", "cpu")).value();
        assertEquals(1, model.get("cfg").get("n_layers").asInt());
        long h = model.get("$h").asLong();
        List<?> names = Json.MAPPER.convertValue(call("model.hook_names", Map.of("model", Map.of("$h", h))).value(), List.class);
        assertTrue(names.contains("blocks.0.attn.hook_z"), names.toString());
        engine().release(new long[] {h}, true);
    }
}
