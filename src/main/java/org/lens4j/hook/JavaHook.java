package org.lens4j.hook;

import org.lens4j.Tensor;

/**
 * A hook written in Java: TransformerLens' {@code fn(activation, hook=hook_point)}, run in
 * Java through a callback while the model runs in Python (one round trip per call).
 *
 * <p>{@code activation} is the selected region of the activation (the whole activation with
 * no selector): a handle to the tensor in Python, on the model's device. The lambda may
 * <ul>
 *   <li>read it ({@code activation.toFloatArray()}, tensor ops), and return {@code null};</li>
 *   <li>modify it in place ({@code activation.copyFrom(other)}), and return {@code null};</li>
 *   <li>return a new tensor of the same shape, which replaces it;</li>
 *   <li>make any other lens4j call meanwhile (calls nest; a forward of the same model
 *       inside the hook fires the hook again, so guard against recursion).</li>
 * </ul>
 * Other threads (a parallel stream, a pool) may work on the activation, or on tensors made
 * from it during the hook: their calls nest into the hook too (on the worker engine). A call
 * from another thread that names none of them waits until the whole run ends, so the lambda
 * must not wait for it: make such calls on the hook's own thread (docs/hooks.md).
 * The activation handle is valid only during the call: Python frees it when the lambda
 * returns, and its Java {@link Tensor} is closed then. Keep what you need with
 * {@code activation.copy()} (or {@code toFloatArray()}). An exception thrown here aborts the
 * run; the caller gets a {@link org.lens4j.CallbackFailedException} whose cause is that
 * exception, and the run's hooks are removed.
 *
 * <pre>{@code
 * List<Tensor> kept = new ArrayList<>();
 * Tensor logits = model.runWithHooks(prompt,
 *     Hook.at(ActName.of("z", 1)).positions(-1).heads(2).java((z, hook) -> {
 *         kept.add(z.copy());              // the handle z dies with the call: copy to keep
 *         return z.mul(0.5);               // replace: head 2 at the last position, halved
 *     }));
 * }</pre>
 */
@FunctionalInterface
public interface JavaHook {
    /**
     * @param activation the selected region, valid only during this call
     * @param hook where the hook fired
     * @return null to keep the activation (with any in-place changes), or a tensor of the same shape to replace it
     */
    Tensor apply(Tensor activation, HookPoint hook) throws Exception;
}
