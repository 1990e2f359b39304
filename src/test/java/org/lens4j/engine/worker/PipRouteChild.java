package org.lens4j.engine.worker;

import java.nio.file.Path;
import java.util.List;

/**
 * Run by {@link PipRouteTest} in a JVM whose environment names a local wheel folder
 * (PIP_FIND_LINKS): builds a venv from the spec folder {@code args[1]} under the LENS4J_HOME
 * {@code args[0]} and prints the step that stopped it, if any.
 */
public final class PipRouteChild {
    private PipRouteChild() {
    }

    public static void main(String[] args) {
        PythonEnv.Setup setup = new PythonEnv.Setup(Path.of(args[0]), System.getenv("LENS4J_PYTHON"),
                line -> System.out.println("progress: " + line), PythonEnv.Spec.fromDirectory(Path.of(args[1])), null);
        try {
            System.out.println("built: " + PythonEnv.ensure(setup).python());
        } catch (PythonEnvException e) {
            System.out.println("stopped at step: " + e.step());
        }
    }
}
