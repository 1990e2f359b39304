package org.lens4j;


/**
 * The engine could not start, or stopped during a call: the worker crashed or was killed, a
 * call timed out, or the waiting thread was interrupted. The message carries the tail of
 * the worker's stderr. {@link Lens#restart()} starts a fresh engine.
 *
 * <pre>{@code
 * try { model.runWithCache(prompt); }
 * catch (EngineException e) { lens.restart(); model = lens.load("toy-ioi"); }
 * }</pre>
 */
public class EngineException extends LensException {
    public EngineException(ErrorKind kind, String message, Throwable cause) {
        super(kind, message, null, null, cause);
    }
}
