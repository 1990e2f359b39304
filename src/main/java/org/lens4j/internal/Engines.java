package org.lens4j.internal;

import org.lens4j.EngineException;
import org.lens4j.EngineOptions;
import org.lens4j.ErrorKind;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.Engine;
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
            case GRAALPY -> {
                requireGraalPyJars();
                yield GraalPyEngine.startForTransformerLens(options, callbacks, graalPy);
            }
            case EMBEDDED -> {
                requireJars("embedded", JEP_DEPENDENCY, "jep.SharedInterpreter");
                yield EmbeddedEngine.start(options, callbacks);
            }
            case AUTO -> {
                if (graalPy.venv() != null) {
                    try {
                        requireGraalPyJars();
                        yield GraalPyEngine.startForTransformerLens(options, callbacks, graalPy);
                    } catch (EngineException e) {
                        options.logLine("lens4j: AUTO chose the worker engine, because " + e.getMessage());
                    }
                }
                yield WorkerEngine.start(options, callbacks);
            }
        };
    }

    /** What a project adds to its build to get the GraalPy engine, which lens4j declares optional. */
    public static final String GRAALPY_DEPENDENCIES = "org.graalvm.polyglot:polyglot:25.0.3 and "
            + "org.graalvm.polyglot:python-community:25.0.3 (type pom)";

    /** What a project adds to its build to get the embedded engine, which lens4j declares optional. */
    public static final String JEP_DEPENDENCY = "black.ninia:jep:" + EmbeddedEngine.JEP_VERSION;

    static void requireGraalPyJars() {
        requireJars("GraalPy", GRAALPY_DEPENDENCIES, "org.graalvm.polyglot.Context", "com.oracle.graal.python.PythonLanguage");
    }

    /**
     * Fails with an {@link EngineException} naming the dependencies to add when an optional engine's
     * jars are not on the class path: a project that depends on lens4j does not get them, and touching
     * the engine's classes without them would end in a bare {@code NoClassDefFoundError}. Checked by
     * name, without loading or initialising anything.
     */
    static void requireJars(String engine, String dependencies, String... classNames) {
        for (String name : classNames) {
            try {
                Class.forName(name, false, Engines.class.getClassLoader());
            } catch (ClassNotFoundException | LinkageError e) {
                throw new EngineException(ErrorKind.ENGINE_START, "the " + engine + " engine needs jars that lens4j declares "
                        + "optional, and " + name + " is not on the class path. Add " + dependencies
                        + " to your build (README, \"Use it in your project\"), "
                        + "or use the worker engine (LENS4J_ENGINE=worker, EngineOptions.Kind.WORKER, which needs neither)", e);
            }
        }
    }
}
