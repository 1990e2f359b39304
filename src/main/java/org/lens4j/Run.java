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

    /**
     * A first line that says what this is ({@code Run: logits float32 [1, 5, 50257] cpu, loss 3.21,
     * cache of 12 entries}), then the logits' preview and the cache's entries.
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Run: logits ");
        sb.append(logits == null ? "none" : logits.dtype() + " " + java.util.Arrays.toString(logits.shape()) + " " + logits.device());
        sb.append(", loss ").append(loss == null ? "not asked for" : loss);
        sb.append(", cache of ").append(cache.size()).append(cache.size() == 1 ? " entry" : " entries");
        if (logits != null) {
            sb.append("\nlogits: ").append(logits);
        }
        return sb.append("\ncache: ").append(cache).toString();
    }
}
