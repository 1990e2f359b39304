package org.lens4j;


/**
 * A tensor, cache or model was used after it was closed, or after the engine that held it
 * stopped (handles never point at objects of a newer engine).
 *
 * <pre>{@code
 * Tensor t = run.logits(); t.close();
 * t.shape(); // still fine: metadata stays in Java
 * t.toFloatArray(); // HandleClosedException
 * }</pre>
 */
public class HandleClosedException extends LensException {
    public HandleClosedException(String message) {
        super(ErrorKind.CLOSED_HANDLE, message);
    }
}
