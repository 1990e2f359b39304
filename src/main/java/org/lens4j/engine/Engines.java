package org.lens4j.engine;

import org.lens4j.EngineException;
import org.lens4j.engine.embedded.EmbeddedEngine;
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
 *   <li>{@code EMBEDDED}: CPython and TransformerLens inside this JVM through JEP
 *       ({@link EmbeddedEngine}); where JEP cannot load, an {@link EngineException} at once,
 *       naming the missing piece and the worker engine. Never chosen by AUTO: a native crash
 *       there ends the JVM, and the worker survives it (docs/ENGINES.md).
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
            case EMBEDDED -> startEmbedded(options, callbacks);
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

    /** JEP's jar is an optional dependency: without it the engine's classes cannot even link. */
    private static Engine startEmbedded(EngineOptions options, CallbackHandler callbacks) {
        try {
            return EmbeddedEngine.start(options, callbacks);
        } catch (NoClassDefFoundError e) {
            throw new EngineException(ErrorKind.ENGINE_START, "the embedded engine needs JEP's jar (black.ninia:jep:"
                    + EmbeddedEngine.JEP_VERSION + ", an optional dependency of lens4j) on the class path, and it is not there ("
                    + e.getMessage() + "). The worker engine runs TransformerLens without it: LENS4J_ENGINE=worker.", e);
        }
    }
}
