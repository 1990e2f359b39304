package org.lens4j;


/**
 * Java code that Python called during an op (a Java hook, a Java metric) threw; the cause is
 * that exception. The op was aborted and its hooks removed.
 *
 * <pre>{@code
 * try { model.runWithHooks(prompt, Hook.at("hook_embed").java((act, hook) -> { throw new IllegalStateException("no"); })); }
 * catch (CallbackFailedException e) { System.out.println(e.getCause().getMessage()); } // no
 * }</pre>
 */
public class CallbackFailedException extends LensException {
    public CallbackFailedException(String message, Throwable cause) {
        super(ErrorKind.CALLBACK_FAILED, message, null, null, cause);
    }
}
