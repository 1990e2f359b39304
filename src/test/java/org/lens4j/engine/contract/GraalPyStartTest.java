package org.lens4j.engine.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.lens4j.EngineException;
import org.lens4j.EngineOptions.Kind;
import org.lens4j.EngineOptions;
import org.lens4j.ErrorKind;
import org.lens4j.Lens;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.Engine;
import org.lens4j.engine.graalpy.GraalPyEngine;
import org.lens4j.engine.graalpy.GraalPySettings;
import org.lens4j.internal.Engines;

/** Engine choice: GRAALPY where GraalPy has no torch fails at start, fast and saying why; AUTO falls back to the worker. */
class GraalPyStartTest {

    static void assertExplainsTheGap(EngineException e, String module) {
        String m = e.getMessage();
        assertEquals(ErrorKind.ENGINE_START, e.kind());
        assertTrue(m.contains("cannot import " + module), m);
        assertTrue(m.matches("(?s).*GraalPy \\d+\\.\\d+\\.\\d+ \\(Python 3\\.\\d+\\.\\d+\\).*"), m);
        assertTrue(m.contains("oracle/graalpython#589") && m.contains("built from source with GraalPy's patches"), m);
        assertTrue(m.contains("LENS4J_ENGINE=worker"), m);
    }

    @Test
    void graalPyWithoutAGraalPyVenvFailsAtOnceNamingTorchAndTheWorker() {
        long start = System.nanoTime();
        EngineException e = assertThrows(EngineException.class, () -> Engines.start(
                ContractEngines.options().withEngine(Kind.GRAALPY), CallbackHandler.NONE, GraalPySettings.none()));
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("contract: GRAALPY refused in %.2f s: %s%n", seconds, e.getMessage());
        assertExplainsTheGap(e, "torch");
        assertTrue(e.getMessage().contains("LENS4J_GRAALPY_VENV"), e.getMessage());
        assertTrue(seconds < 30, "took " + seconds + " s: no GraalPy context should start without a venv");
    }

    @Test
    void lensStartWithGraalPyFailsTheSameWay() {
        Assumptions.assumeTrue(GraalPySettings.fromEnvironment().venv() == null,
                "LENS4J_GRAALPY_VENV is set here: Lens.start(GRAALPY) may legitimately succeed");
        EngineException e = assertThrows(EngineException.class,
                () -> Lens.start(ContractEngines.options().withEngine(Kind.GRAALPY)));
        assertExplainsTheGap(e, "torch");
    }

    @Test
    void aFolderThatIsNoVenvIsRefusedWithItsPath() throws Exception {
        Path notAVenv = Files.createTempDirectory("lens4j-not-a-venv");
        EngineException e = assertThrows(EngineException.class, () -> Engines.start(
                ContractEngines.options().withEngine(Kind.GRAALPY), CallbackHandler.NONE, GraalPySettings.of(notAVenv)));
        assertEquals(ErrorKind.ENGINE_START, e.kind());
        assertTrue(e.getMessage().contains(notAVenv.toString()) && e.getMessage().contains("pyvenv.cfg"), e.getMessage());
        Files.delete(notAVenv);
    }

    @Test
    void aRunningGraalPyContextNamesTheModuleItCannotImport() {
        GraalPyEngine engine = ContractEngines.graalPy();
        Map<String, String> missing = engine.missingModules(GraalPyEngine.TRANSFORMER_LENS_MODULES);
        if (missing.isEmpty()) {
            engine.requireTransformerLens(); // GraalPy imports both here: nothing to refuse
            return;
        }
        String first = missing.keySet().iterator().next();
        EngineException e = assertThrows(EngineException.class, engine::requireTransformerLens);
        System.out.println("contract: the GraalPy context's own import probe says: " + e.getMessage());
        assertExplainsTheGap(e, first);
        assertTrue(e.getMessage().contains(missing.get(first)), e.getMessage());
        assertTrue(engine.isAlive(), "a failed probe must leave the context usable");
        assertFalse(engine.missingModules(List.of("json")).containsKey("json"));
    }

    @Test
    void autoTakesTheWorkerWhenGraalPyCannotRunTransformerLens() throws Exception {
        Path notAVenv = Files.createTempDirectory("lens4j-not-a-venv");
        List<String> log = new ArrayList<>();
        EngineOptions options = ContractEngines.options().withEngine(Kind.AUTO).withLog(log::add);
        try (Engine engine = Engines.start(options, CallbackHandler.NONE, GraalPySettings.of(notAVenv))) {
            assertTrue(engine.describe().startsWith("worker engine"), engine.describe());
            assertEquals(5, engine.call("bridge.echo", Map.of("value", 5), List.of(), null).value().get("value").asInt());
        }
        assertTrue(log.stream().anyMatch(l -> l.startsWith("lens4j: AUTO chose the worker engine") && l.contains("pyvenv.cfg")), log.toString());
        Files.delete(notAVenv);
        try (Engine engine = Engines.start(options, CallbackHandler.NONE, GraalPySettings.none())) {
            assertTrue(engine.describe().startsWith("worker engine"), engine.describe());
        }
    }

    @Test
    void pythonExitingEndsTheContextNotTheJvm() {
        try (GraalPyEngine engine = GraalPyEngine.start(ContractEngines.options(), CallbackHandler.NONE, GraalPySettings.none())) {
            EngineException e = assertThrows(EngineException.class,
                    () -> engine.call("bridge.exit", Map.of("code", 7), List.of(), null));
            assertEquals(ErrorKind.ENGINE_DIED, e.kind());
            assertTrue(e.getMessage().contains("status 7"), e.getMessage());
            assertFalse(engine.isAlive());
            assertThrows(EngineException.class, () -> engine.call("bridge.echo", Map.of(), List.of(), null));
        }
    }
}
