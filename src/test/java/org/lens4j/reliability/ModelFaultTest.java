package org.lens4j.reliability;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.lens4j.ActivationCache;
import org.lens4j.CallbackFailedException;
import org.lens4j.EngineException;
import org.lens4j.HandleClosedException;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.ProgressListener;
import org.lens4j.PythonException;
import org.lens4j.Run;
import org.lens4j.Tensor;
import org.lens4j.ErrorKind;

/**
 * Faults inside model ops on the tiny model: exceptions in hooks (Python and Java), in a
 * Java metric and in a progress listener, which must leave the worker and the model exactly
 * as they were (no hook left attached, the same logits); and a kill in the middle of a sweep,
 * after which the model's handles fail clearly and {@link Lens#reload(Model)} brings it back.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ModelFaultTest {
    static final String PROMPT = "When John and Mary went to the shops, John gave the bag to";
    static final String CORRUPTED = "When John and Mary went to the shops, Mary gave the bag to";

    private static Lens lens;
    private static Model model;
    private static float[] baseline;

    @BeforeAll
    static void start() {
        lens = Faults.sharedLens();
        model = Faults.sharedModel();
        baseline = logits();
    }

    private static float[] logits() {
        try (Tensor t = model.logits(PROMPT)) {
            return t.toFloatArray();
        }
    }

    private static JsonNode runWithHooks(Object... specs) {
        return LensAccess.ops(lens).call("hooks.run_with_hooks", Map.of("model", model.ref(), "input", PROMPT, "hooks", List.of(specs),
                "return_type", "none")).value();
    }

    /** The model is as before the fault: no hook left on it, the same logits, no handle leaked. */
    private static void assertModelUntouched(int handlesBefore) {
        assertEquals(0, LensAccess.ops(lens).call("hooks.list", Map.of("model", model.ref())).value().size(), "a hook was left attached");
        assertArrayEquals(baseline, logits(), "the model computes something else after the fault");
        assertEquals(handlesBefore, lens.pythonHandleCount(), "handles leaked");
        Faults.assertAliveAndWorking(lens);
    }

    @Test
    @Order(1)
    void aPythonErrorInsideAHook() {
        int handles = lens.pythonHandleCount();
        long pid = Faults.worker(lens).pid();
        // A "set" whose value fits no selection of the activation: fails inside the hook function.
        InvalidInputException shape = assertThrows(InvalidInputException.class, () -> runWithHooks(
                Map.of("names", List.of("blocks.0.hook_resid_pre"), "actions", List.of(Map.of("type", "set", "value", List.of(1.0, 2.0, 3.0))))));
        assertEquals(ErrorKind.SHAPE_MISMATCH, shape.kind());
        // A raw Python exception (torch.tensor on a ragged list) raised inside the hook function.
        long ragged = LensAccess.ops(lens).register((args, blobs) -> List.of(List.of(1.0), List.of(1.0, 2.0)));
        try {
            PythonException py = assertThrows(PythonException.class, () -> runWithHooks(
                    Map.of("names", List.of("blocks.1.attn.hook_z"), "actions", List.of(Map.of("type", "java", "id", ragged)))));
            assertEquals(ErrorKind.PYTHON_ERROR, py.kind());
            assertEquals("ValueError", py.pythonType());
        } finally {
            LensAccess.ops(lens).unregister(ragged);
        }
        assertEquals(pid, Faults.worker(lens).pid());
        assertModelUntouched(handles);
    }

    @Test
    @Order(2)
    void aJavaExceptionInsideAJavaHook() {
        int handles = lens.pythonHandleCount();
        long id = LensAccess.ops(lens).register((args, blobs) -> {
            throw new IllegalStateException("thrown by a Java hook on " + args.get("name").asText());
        });
        long wrongShape = LensAccess.ops(lens).register((args, blobs) -> List.of(1.0, 2.0));
        try {
            CallbackFailedException e = assertThrows(CallbackFailedException.class, () -> runWithHooks(
                    Map.of("glob", "blocks.*.attn.hook_z", "actions", List.of(Map.of("type", "java", "id", id)))));
            assertEquals(ErrorKind.CALLBACK_FAILED, e.kind());
            IllegalStateException cause = assertInstanceOf(IllegalStateException.class, e.getCause());
            assertEquals("thrown by a Java hook on blocks.0.attn.hook_z", cause.getMessage());
            InvalidInputException shape = assertThrows(InvalidInputException.class, () -> runWithHooks(
                    Map.of("names", List.of("blocks.0.hook_resid_post"), "actions", List.of(Map.of("type", "java", "id", wrongShape)))));
            assertEquals(ErrorKind.SHAPE_MISMATCH, shape.kind());
        } finally {
            LensAccess.ops(lens).unregister(id);
            LensAccess.ops(lens).unregister(wrongShape);
        }
        assertModelUntouched(handles);
    }

    @Test
    @Order(3)
    void aJavaExceptionInsideAJavaMetric() {
        int handles = lens.pythonHandleCount();
        long id = LensAccess.ops(lens).register((args, blobs) -> {
            throw new ArithmeticException("thrown by a Java metric");
        });
        try {
            CallbackFailedException e = assertThrows(CallbackFailedException.class, () -> LensAccess.ops(lens).call("hooks.run_with_cache",
                    Map.of("model", model.ref(), "input", PROMPT, "names", List.of("blocks.0.hook_resid_pre"), "incl_bwd", true,
                            "backward_of", Map.of("type", "java", "id", id))));
            assertInstanceOf(ArithmeticException.class, e.getCause());
        } finally {
            LensAccess.ops(lens).unregister(id);
        }
        assertModelUntouched(handles);
    }

    private static Map<String, Object> sweepArgs() {
        int mary = model.toSingleToken(" Mary");
        int john = model.toSingleToken(" John");
        return Map.of("model", model.ref(), "clean", PROMPT, "corrupted", CORRUPTED, "answers", List.of(List.of(mary, john)),
                "method", "zero", "normalize", false, "batch_size", 1);
    }

    @Test
    @Order(4)
    void anExceptionInAProgressListenerEndsTheCallButNotTheWorker() {
        long pid = Faults.worker(lens).pid();
        int handles = lens.pythonHandleCount();
        List<Long> seen = new ArrayList<>();
        ProgressListener throwing = (done, total, message) -> {
            seen.add(done);
            throw new IllegalStateException("thrown by a progress listener at " + done + "/" + total);
        };
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> LensAccess.ops(lens).call("analysis.ablate_heads", sweepArgs(), List.of(), throwing));
        assertEquals("thrown by a progress listener at 1/8", e.getMessage());
        assertEquals(List.of(1L), seen, "a listener that threw is not called again");
        // The sweep's remaining frames were read: the next calls get their own answers.
        for (int i = 0; i < 5; i++) {
            assertEquals(i, LensAccess.ops(lens).call("bridge.echo", Map.of("value", i)).value().get("value").asInt());
        }
        assertEquals(pid, Faults.worker(lens).pid());
        assertModelUntouched(handles);
    }

    @Test
    @Order(5)
    void killedMidSweepThenRestartedAndReloaded() {
        long pid = Faults.worker(lens).pid();
        Tensor tokens = model.toTokens(PROMPT);
        Run run = model.runWithCache(PROMPT, Names.only("z"));
        ActivationCache cache = run.cache();
        List<Long> events = new ArrayList<>();
        ProgressListener killAtThird = (done, total, message) -> {
            events.add(done);
            if (done == 3) {
                Faults.kill9(pid);
            }
        };
        EngineException e = assertThrows(EngineException.class,
                () -> LensAccess.ops(lens).call("analysis.ablate_heads", sweepArgs(), List.of(), killAtThird));
        assertEquals(ErrorKind.ENGINE_DIED, e.kind());
        assertEquals(List.of(1L, 2L, 3L), events, "the sweep stopped where it was killed");

        lens.restart();
        assertNotEquals(pid, Faults.worker(lens).pid());
        for (Runnable stale : List.<Runnable>of(model::ref, tokens::toLongArray, () -> cache.get("z", 0), () -> model.logits(PROMPT))) {
            HandleClosedException closed = assertThrows(HandleClosedException.class, stale::run);
            assertTrue(closed.getMessage().contains("engine that stopped"), closed.getMessage());
        }
        Model again = lens.reload(model);
        assertNotEquals(model, again);
        model = again;
        Faults.replaceSharedModel(again);
        assertArrayEquals(baseline, logits(), "the reloaded model is the same model");
        JsonNode sweep = LensAccess.ops(lens).call("analysis.ablate_heads", sweepArgs(), List.of(), null).value();
        assertEquals(2, sweep.get("layers").size());
    }
}
