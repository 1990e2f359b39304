package org.lens4j;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.lens4j.ErrorKind;

/** Bad input gets a clear exception of the right kind, and the worker still answers afterwards. */
class ErrorsTest {
    private final Lens lens = TestLens.lens();
    private final Model model = TestLens.tiny();

    @AfterEach
    void workerStillAnswers() {
        assertTrue(lens.isAlive());
        assertEquals(List.of("When", " John"), model.toStrTokens("When John").subList(1, 3));
    }

    @Test
    void unknownModel() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> lens.load("no-such-model-anywhere"));
        assertEquals(ErrorKind.UNKNOWN_MODEL, e.kind());
        assertTrue(e.getMessage().contains("Bundled models"), e.getMessage());
        assertThrows(InvalidInputException.class, () -> lens.load(Path.of("/definitely/not/here")));
    }

    @Test
    void unknownHookNameListsTheNearest() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> model.runWithCache(TestLens.PROMPT, Names.of("blocks.0.attn.hook_patern")));
        assertEquals(ErrorKind.UNKNOWN_HOOK, e.kind());
        assertTrue(((List<?>) e.details().get("nearest")).contains("blocks.0.attn.hook_pattern"), e.details().toString());
        InvalidInputException none = assertThrows(InvalidInputException.class,
                () -> model.runWithCache(TestLens.PROMPT, Names.glob("nothing.*")));
        assertTrue(none.getMessage().contains("hook names look like"), none.getMessage());
    }

    @Test
    void cacheKeyThatIsNotThere() {
        try (Run run = model.runWithCache(TestLens.PROMPT, Names.only("pattern"))) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> run.cache().get("resid_pre", 0));
            assertTrue(e.getMessage().contains("nearest keys"), e.getMessage());
            assertTrue(run.cache().keys().containsAll((List<?>) e.details().get("nearest")), e.details().toString());
            assertThrows(InvalidInputException.class, () -> run.cache().get("pattern", 7));
        }
    }

    @Test
    void textThatIsNotOneToken() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.toSingleToken(" John and Mary"));
        assertEquals(ErrorKind.NOT_SINGLE_TOKEN, e.kind());
        assertEquals(List.of(" John", " and", " Mary"), e.details().get("tokens"));
    }

    @Test
    void emptyBatchAndWrongInputTypes() {
        // An empty batch is refused at the Java edge (Input.Prompts), and by the op for callers that bypass it.
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class, () -> model.logits(List.<String>of()));
        assertTrue(empty.getMessage().contains("at least one prompt"), empty.getMessage());
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> LensAccess.ops(lens).call("model.forward", Map.of("model", model.ref(), "input", List.of())));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
        // Model's input types refuse other values at compile time; the op refuses them from callers that bypass those.
        assertThrows(InvalidInputException.class,
                () -> LensAccess.ops(lens).call("model.forward", Map.of("model", model.ref(), "input", 42)));
        assertThrows(InvalidInputException.class,
                () -> LensAccess.ops(lens).call("model.forward", Map.of("model", model.ref(), "input", List.of("ok", 3))));
    }

    @Test
    void wrongShapes() {
        try (Tensor a = lens.tensor(new float[6], 2, 3); Tensor b = lens.tensor(new float[6], 2, 3)) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> a.matmul(b));
            assertEquals(ErrorKind.SHAPE_MISMATCH, e.kind());
            assertTrue(e.getMessage().contains("[2, 3]"), e.getMessage());
            assertThrows(InvalidInputException.class, () -> a.select(0, 5));
            assertThrows(InvalidInputException.class, () -> a.reshape(4));
            assertThrows(IllegalArgumentException.class, () -> lens.tensor(new float[5], 2, 3));
        }
    }

    @Test
    void closedHandle() {
        Tensor t = model.toTokens("When John");
        t.close();
        HandleClosedException e = assertThrows(HandleClosedException.class, () -> model.toStrTokens(t));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        // a handle id that Python never issued (or already freed) is refused there too
        LensException stale = assertThrows(LensException.class,
                () -> LensAccess.ops(lens).call("tensor.meta", Map.of("tensor", Map.of("$h", 987_654_321L))));
        assertEquals(ErrorKind.CLOSED_HANDLE, stale.kind());
    }

    @Test
    void unknownOpAndArguments() {
        InvalidInputException op = assertThrows(InvalidInputException.class, () -> LensAccess.ops(lens).call("model.nope", Map.of()));
        assertTrue(((List<?>) op.details().get("valid")).contains("model.forward"), op.details().toString());
        InvalidInputException arg = assertThrows(InvalidInputException.class,
                () -> LensAccess.ops(lens).call("model.forward", Map.of("model", model.ref(), "inputs", "x")));
        assertTrue(arg.getMessage().contains("valid arguments"), arg.getMessage());
    }

    @Test
    void pythonExceptionsCarryTheirTypeAndTraceback() {
        PythonException e = assertThrows(PythonException.class,
                () -> LensAccess.ops(lens).call("bridge.fail", Map.of("message", "boom")));
        assertEquals("RuntimeError", e.pythonType());
        assertTrue(e.pythonTraceback().contains("bridge.fail") || e.pythonTraceback().contains("core.py"), e.pythonTraceback());
        PythonException oom = assertThrows(PythonException.class,
                () -> LensAccess.ops(lens).call("bridge.fail", Map.of("kind", "out_of_memory", "message", "simulated")));
        assertEquals(ErrorKind.OUT_OF_MEMORY, oom.kind());
    }
}
