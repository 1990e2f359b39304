package org.lens4j.engine.graalpy;

import java.nio.file.Path;

/**
 * Where the GraalPy engine finds packages beyond GraalPy's standard library: a GraalPy virtual
 * environment (made with GraalPy's {@code graalpy -m venv}) that holds a GraalPy-built torch and
 * transformer-lens, as venv-spec/graalpy/README.md describes. Without one, the GraalPy engine
 * still runs the bridge's torch-free ops, but cannot run TransformerLens.
 *
 * <pre>{@code
 * // LENS4J_GRAALPY_VENV=/opt/graalpy-venv LENS4J_ENGINE=graalpy java ...      or:
 * Engine e = Engines.start(options.withEngine(Kind.GRAALPY), handler, GraalPySettings.of(Path.of("/opt/graalpy-venv")));
 * }</pre>
 *
 * @param venv the GraalPy venv's folder (holding {@code pyvenv.cfg}); null for none
 */
public record GraalPySettings(Path venv) {
    public static final String VENV_ENV = "LENS4J_GRAALPY_VENV";
    public static final String VENV_PROPERTY = "lens4j.graalpy.venv";

    /** No venv: GraalPy's standard library and the bridge only. */
    public static GraalPySettings none() {
        return new GraalPySettings(null);
    }

    public static GraalPySettings of(Path venv) {
        return new GraalPySettings(venv);
    }

    /** The system property {@code lens4j.graalpy.venv}, else the environment variable {@code LENS4J_GRAALPY_VENV}. */
    public static GraalPySettings fromEnvironment() {
        String value = System.getProperty(VENV_PROPERTY);
        if (value == null || value.isBlank()) {
            value = System.getenv(VENV_ENV);
        }
        return new GraalPySettings(value == null || value.isBlank() ? null : Path.of(value).toAbsolutePath().normalize());
    }

    /** The venv's {@code bin/python}, which GraalPy takes as {@code sys.executable} to find the venv's site-packages. */
    Path executable() {
        return venv.resolve("bin").resolve("python");
    }
}
