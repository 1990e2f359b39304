package org.lens4j.hook;

import org.lens4j.ActivationCache;
import org.lens4j.Tensor;

/**
 * The result of {@code model.runWithGradients}: logits, loss, the value of the differentiated
 * metric, and a cache that holds, besides each cached activation, its gradient under
 * {@code <name>_grad} (the gradient arriving at the hook point). What attribution patching needs.
 *
 * <pre>{@code
 * try (GradientRun run = model.runWithGradients(corrupt, Names.only("resid_pre"), Backward.logitDiff(mary, john))) {
 *     Tensor act = run.cache().get("blocks.1.hook_resid_pre");
 *     Tensor grad = run.grad("blocks.1.hook_resid_pre");             // same shape
 *     Tensor attribution = clean.get("blocks.1.hook_resid_pre").sub(act).mul(grad).sum(2);  // [batch, pos]
 * }
 * }</pre>
 *
 * @param logits [batch, pos, d_vocab]
 * @param loss the mean next-token loss
 * @param metric the value of the scalar that was differentiated
 * @param cache activations and {@code _grad} entries
 * @param captures what capture actions stored (backward hooks capture under {@code <name>_grad} by default)
 */
public record GradientRun(Tensor logits, Double loss, double metric, ActivationCache cache, Captures captures)
        implements AutoCloseable {

    /** The gradient at a full hook name: {@code cache().get(name + "_grad")}. */
    public Tensor grad(String name) {
        return cache.get(name + "_grad");
    }

    /** The gradient at a short name and layer, such as {@code grad("resid_pre", 1)}. */
    public Tensor grad(String shortName, int layer) {
        return grad(org.lens4j.ActName.of(shortName, layer));
    }

    @Override
    public void close() {
        if (logits != null) {
            logits.close();
        }
        cache.close();
        captures.close();
    }
}
