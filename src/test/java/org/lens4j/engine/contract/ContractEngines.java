package org.lens4j.engine.contract;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.lens4j.EngineOptions;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.Engine;
import org.lens4j.engine.embedded.EmbeddedEngine;
import org.lens4j.engine.graalpy.GraalPyEngine;
import org.lens4j.engine.graalpy.GraalPySettings;
import org.lens4j.engine.worker.WorkerEngine;

/**
 * One engine of each kind for the test JVM, shared by the contract classes (a GraalPy context
 * is slow to start), each with a table of named Java callbacks that tests fill in.
 */
final class ContractEngines {
    static final Map<String, CallbackHandler> WORKER_CALLBACKS = new ConcurrentHashMap<>();
    static final Map<String, CallbackHandler> GRAALPY_CALLBACKS = new ConcurrentHashMap<>();
    static final Map<String, CallbackHandler> EMBEDDED_CALLBACKS = new ConcurrentHashMap<>();
    private static EmbeddedEngine embedded;
    private static WorkerEngine worker;
    private static GraalPyEngine graalPy;
    private static String graalPyTorchGap;

    private ContractEngines() {
    }

    /** The defaults on the CPU, with the source tree's python/ when the tests run from it. */
    static EngineOptions options() {
        EngineOptions options = EngineOptions.defaults().withDevice("cpu");
        Path source = Path.of("python").toAbsolutePath();
        return Files.isRegularFile(source.resolve("lens4j_bridge").resolve("graalpy_entry.py"))
                ? options.withBridgeDir(source) : options;
    }

    static synchronized WorkerEngine worker() {
        if (worker == null || !worker.isAlive()) {
            worker = WorkerEngine.start(options(), router(WORKER_CALLBACKS));
            closeAtExit(worker);
        }
        return worker;
    }

    static synchronized GraalPyEngine graalPy() {
        if (graalPy == null || !graalPy.isAlive()) {
            long start = System.nanoTime();
            graalPy = GraalPyEngine.start(options(), router(GRAALPY_CALLBACKS), GraalPySettings.fromEnvironment());
            System.out.printf("contract: started %s in %.1f s%n", graalPy.describe(), (System.nanoTime() - start) / 1e9);
            closeAtExit(graalPy);
        }
        return graalPy;
    }

    static synchronized EmbeddedEngine embedded() {
        if (embedded == null || !embedded.isAlive()) {
            long start = System.nanoTime();
            embedded = EmbeddedEngine.start(options(), router(EMBEDDED_CALLBACKS));
            System.out.printf("contract: started %s in %.1f s%n", embedded.describe(), (System.nanoTime() - start) / 1e9);
            closeAtExit(embedded);
        }
        return embedded;
    }

    /** Why the shared GraalPy engine cannot run torch ops, or null where it imports torch and transformer_lens. */
    static synchronized String graalPyTorchGap() {
        if (graalPyTorchGap == null) {
            Map<String, String> missing = graalPy().missingModules(GraalPyEngine.TRANSFORMER_LENS_MODULES);
            graalPyTorchGap = missing.isEmpty() ? "" : "GraalPy " + graalPy().graalPyVersion() + " cannot import "
                    + String.join(" and ", missing.keySet()) + " (" + missing.values().iterator().next() + ")";
        }
        return graalPyTorchGap.isEmpty() ? null : graalPyTorchGap;
    }

    static CallbackHandler router(Map<String, CallbackHandler> table) {
        return (name, args, blobs) -> {
            CallbackHandler handler = table.get(name);
            if (handler == null) {
                throw new UnsupportedOperationException("no test callback named '" + name + "'");
            }
            return handler.onCallback(name, args, blobs);
        };
    }

    private static void closeAtExit(Engine engine) {
        Runtime.getRuntime().addShutdownHook(new Thread(engine::close));
    }
}
