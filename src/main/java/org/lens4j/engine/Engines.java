package org.lens4j.engine;

import org.lens4j.EngineException;
import org.lens4j.engine.graalpy.GraalPyEngine;
import org.lens4j.engine.graalpy.GraalPySettings;
import org.lens4j.engine.worker.WorkerEngine;

/**
 * Starts the engine that {@link EngineOptions#engine()} asks for.
 *
 * <ul>
 *   <li>{@code WORKER}: the CPython worker process.
 *   <li>{@code GRAALPY}: the in-process GraalPy engine, only where GraalPy imports torch and
 *       transformer_lens; elsewhere an {@link EngineException} ({@code ENGINE_START}) at once,
 *       naming the missing module and the worker engine.
 *   <li>{@code AUTO}: GraalPy when a GraalPy venv is configured ({@code LENS4J_GRAALPY_VENV}) and
 *       imports torch and transformer_lens there, else the worker. With no GraalPy venv, no
 *       GraalPy context is started at all: GraalPy's standard library holds no torch.
 * </ul>
 *
 * <pre>{@code
 * try (Engine engine = Engines.start(EngineOptions.defaults(), CallbackHandler.NONE)) {
 *     System.out.println(engine.describe()); // worker engine (CPython 3.11.7, pid 4242)
 * }
 * }</pre>
 */
public final class Engines {
    private Engines() {
    }

    public static Engine start(EngineOptions options, CallbackHandler callbacks) {
        return start(options, callbacks, GraalPySettings.fromEnvironment());
    }

    public static Engine start(EngineOptions options, CallbackHandler callbacks, GraalPySettings graalPy) {
        return switch (options.engine()) {
            case WORKER -> WorkerEngine.start(options, callbacks);
            case GRAALPY -> GraalPyEngine.startForTransformerLens(options, callbacks, graalPy);
            case AUTO -> {
                if (graalPy.venv() != null) {
                    try {
                        yield GraalPyEngine.startForTransformerLens(options, callbacks, graalPy);
                    } catch (EngineException e) {
                        options.logLine("lens4j: AUTO chose the worker engine, because " + e.getMessage());
                    }
                }
                yield WorkerEngine.start(options, callbacks);
            }
        };
    }
}
