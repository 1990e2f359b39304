package org.lens4j;

import java.util.Map;

/**
 * An op failed inside Python (including out-of-memory and a missing module); the message
 * carries Python's, {@link #pythonTraceback()} the traceback. The engine takes the next call.
 *
 * <pre>{@code
 * try { Run run = model.runWithCache(manyLongPrompts); }
 * catch (PythonException e) { System.out.println(e.kind() + " " + e.pythonType()); } // OUT_OF_MEMORY OutOfMemoryError
 * }</pre>
 */
public class PythonException extends LensException {
    public PythonException(ErrorKind kind, String message, String pythonType, String traceback) {
        this(kind, message, pythonType, traceback, Map.of());
    }

    public PythonException(ErrorKind kind, String message, String pythonType, String traceback,
            Map<String, ?> details) {
        super(kind, message, pythonType, traceback, null, details);
    }
}
