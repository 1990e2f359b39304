package org.lens4j;

/**
 * The result of {@link Model#runWithCache}: the logits (or null with return type none), the
 * loss when asked for, and the activation cache. Closing it closes all three.
 *
 * <pre>{@code
 * try (Run run = model.runWithCache(prompt, Names.only("pattern"))) {
 *     float[][] head = run.cache().get("pattern", 0).select(0, 0).select(0, 3).toFloatArray2();
 * }
 * }</pre>
 */
public record Run(Tensor logits, Double loss, ActivationCache cache) implements AutoCloseable {
    @Override
    public void close() {
        if (logits != null) {
            logits.close();
        }
        cache.close();
    }
}
