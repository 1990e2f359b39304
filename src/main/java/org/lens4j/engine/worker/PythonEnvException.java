package org.lens4j.engine.worker;

import java.util.List;

import org.lens4j.EngineException;
import org.lens4j.ErrorKind;

/**
 * The Python environment could not be made: no suitable Python, or a step of the venv build
 * failed. The message names the step, the command and the tail of its output, so that it can
 * be read without digging for a log.
 *
 * <pre>{@code
 * try { PythonEnv.ensure(home, null, System.err::println); }
 * catch (PythonEnvException e) { System.err.println(e.step() + " failed:\n" + e.outputTail()); }
 * }</pre>
 */
public class PythonEnvException extends EngineException {
    private final String step;
    private final List<String> command;
    private final String outputTail;

    public PythonEnvException(String step, List<String> command, String outputTail, String message, Throwable cause) {
        super(ErrorKind.ENGINE_START, message, cause);
        this.step = step;
        this.command = command == null ? List.of() : List.copyOf(command);
        this.outputTail = outputTail == null ? "" : outputTail;
    }

    public PythonEnvException(String step, String message) {
        this(step, null, null, message, null);
    }

    /** The step that failed: "find Python", "create venv", "pip install", "verify imports", ... */
    public String step() {
        return step;
    }

    /** The command that failed, empty when the step ran no command. */
    public List<String> command() {
        return command;
    }

    /** The last lines of the failed command's output, empty when the step ran no command. */
    public String outputTail() {
        return outputTail;
    }
}
