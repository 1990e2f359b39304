package org.lens4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.lens4j.internal.LensAccess;

/**
 * Errors carry what their message says as data ({@link LensException#details()}), so that callers
 * and these tests read values, not message text. Runs on the worker, and again on the embedded
 * engine in {@code ./lens4j test}'s embedded pass (it is on the launcher's EMBEDDED_TESTS list).
 */
class ErrorDetailsTest {
    private final Lens lens = TestLens.lens();
    private final Model model = TestLens.tiny();

    @AfterEach
    void theEngineStillAnswers() {
        assertTrue(lens.isAlive());
        assertEquals(List.of("When", " John"), model.toStrTokens("When John").subList(1, 3));
    }

    private static Map<String, Object> range(long min, long max) {
        return Map.of("min", min, "max", max);
    }

    @Test
    void anUnknownHookNameGivesTheNearestValidNames() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> model.runWithCache(TestLens.PROMPT, Names.of("blocks.0.attn.hook_patern")));
        assertEquals(ErrorKind.UNKNOWN_HOOK, e.kind());
        assertEquals("blocks.0.attn.hook_patern", e.details().get("got"));
        assertEquals("blocks.0.attn.hook_pattern", ((List<?>) e.details().get("nearest")).get(0), e.details().toString());
    }

    @Test
    void aCacheKeyThatIsNotThereGivesTheNearestKeysAndALayerOutOfRangeTheRange() {
        try (Run run = model.runWithCache(TestLens.PROMPT, Names.only("pattern"))) {
            InvalidInputException missing = assertThrows(InvalidInputException.class, () -> run.cache().get("resid_pre", 0));
            assertEquals(ErrorKind.UNKNOWN_HOOK, missing.kind());
            assertEquals("blocks.0.hook_resid_pre", missing.details().get("got"));
            List<?> nearest = (List<?>) missing.details().get("nearest");
            assertTrue(!nearest.isEmpty() && run.cache().keys().containsAll(nearest), nearest + " are keys of the cache");
            InvalidInputException layer = assertThrows(InvalidInputException.class, () -> run.cache().get("pattern", 7));
            assertEquals(Map.of("argument", "layer", "got", 7L, "valid", range(-2, 1)), layer.details());
        }
    }

    @Test
    void aTextThatIsNotOneTokenGivesItsTokens() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.toSingleToken(" John and Mary"));
        assertEquals(ErrorKind.NOT_SINGLE_TOKEN, e.kind());
        assertEquals(Map.of("got", " John and Mary", "tokens", List.of(" John", " and", " Mary")), e.details());
    }

    @Test
    void aShapeMismatchGivesTheShapeAndWhatWasExpected() {
        try (Tensor a = lens.tensor(new float[6], 2, 3)) {
            InvalidInputException matmul = assertThrows(InvalidInputException.class, () -> a.matmul(a));
            assertEquals(ErrorKind.SHAPE_MISMATCH, matmul.kind());
            assertEquals("other", matmul.details().get("argument"));
            assertEquals(List.of(2L, 3L), matmul.details().get("shape"));
            assertEquals(Arrays.asList(3L, null), matmul.details().get("expected"), "null: a size that may be anything");
            InvalidInputException select = assertThrows(InvalidInputException.class, () -> a.select(0, 5));
            assertEquals(Map.of("argument", "index", "got", 5L, "valid", range(-2, 1), "shape", List.of(2L, 3L)), select.details());
        }
    }

    @Test
    void anUnknownOpOrArgumentGivesTheValidNames() {
        InvalidInputException op = assertThrows(InvalidInputException.class, () -> LensAccess.ops(lens).call("model.forwrd", Map.of()));
        assertEquals(ErrorKind.UNKNOWN_OP, op.kind());
        assertEquals("model.forward", ((List<?>) op.details().get("nearest")).get(0), op.details().toString());
        assertTrue(((List<?>) op.details().get("valid")).contains("model.run_with_cache"), op.details().toString());
        InvalidInputException arg = assertThrows(InvalidInputException.class,
                () -> LensAccess.ops(lens).call("model.forward", Map.of("model", model.ref(), "inputs", "x")));
        assertEquals("inputs", arg.details().get("argument"));
        assertEquals(List.of("input"), arg.details().get("nearest"));
        assertTrue(((List<?>) arg.details().get("valid")).containsAll(List.of("model", "input", "return_type")), arg.details().toString());
    }

    @Test
    void anUnknownChoiceGivesTheValidOnes() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> LensAccess.ops(lens).call("model.forward",
                Map.of("model", model.ref(), "input", TestLens.PROMPT, "return_type", "logit")));
        assertEquals(Map.of("argument", "return_type", "got", "logit", "valid", List.of("logits", "loss", "both", "none")),
                e.details());
    }

    @Test
    @SuppressWarnings("unchecked")
    void detailsAreImmutableJsonValuesWithEveryIntegerALong() {
        Map<String, Object> sent = Map.of("got", 3, "valid", Map.of("min", 0, "max", 9_000_000_000L), "shape", List.of(1, 2),
                "argument", "x", "nearest", List.of("a", "b"));
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> LensAccess.ops(lens).call("bridge.fail",
                Map.of("kind", "bad_argument", "message", "asked for details", "details", sent)));
        assertEquals(Map.of("got", 3L, "valid", range(0, 9_000_000_000L), "shape", List.of(1L, 2L), "argument", "x",
                "nearest", List.of("a", "b")), e.details());
        assertInstanceOf(Long.class, e.details().get("got"));
        assertThrows(UnsupportedOperationException.class, () -> e.details().put("more", 1));
        assertThrows(UnsupportedOperationException.class, () -> ((List<Object>) e.details().get("shape")).add(3L));
        assertThrows(UnsupportedOperationException.class, () -> ((Map<String, Object>) e.details().get("valid")).clear());
        PythonException none = assertThrows(PythonException.class, () -> LensAccess.ops(lens).call("bridge.fail", Map.of("message", "x")));
        assertEquals(Map.of(), none.details(), "a plain Python error carries no details");
    }
}
