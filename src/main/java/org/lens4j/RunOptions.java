package org.lens4j;

/**
 * Options of a forward pass, as TransformerLens' {@code forward}/{@code run_with_cache} name them.
 *
 * <pre>{@code
 * model.runWithCache(prompt, Names.all(), RunOptions.defaults().withStopAtLayer(2).withReturnType(ReturnType.NONE));
 * }</pre>
 *
 * @param returnType what the run returns besides the cache
 * @param prependBos null: the model's default
 * @param paddingSide "left" or "right" for batches of prompts of different lengths; null: the tokenizer's
 * @param stopAtLayer run only the blocks before this one (negative counts from the end); null runs all
 * @param removeBatchDim drop the batch dimension of cache entries (batch of one only)
 * @param lossPerToken give the loss per token instead of the mean
 */
public record RunOptions(ReturnType returnType, Boolean prependBos, String paddingSide, Integer stopAtLayer,
                         boolean removeBatchDim, boolean lossPerToken) {

    /** What a run returns besides its cache. */
    public enum ReturnType {
        LOGITS, LOSS, BOTH, NONE;

        String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public RunOptions {
        if (returnType == null) {
            throw new IllegalArgumentException("returnType must not be null; use ReturnType.NONE for none");
        }
        if (paddingSide != null && !paddingSide.equals("left") && !paddingSide.equals("right")) {
            throw new IllegalArgumentException("paddingSide must be 'left' or 'right'; got '" + paddingSide + "'");
        }
    }

    public static RunOptions defaults() {
        return new RunOptions(ReturnType.LOGITS, null, null, null, false, false);
    }

    public RunOptions withReturnType(ReturnType value) {
        return new RunOptions(value, prependBos, paddingSide, stopAtLayer, removeBatchDim, lossPerToken);
    }

    public RunOptions withPrependBos(Boolean value) {
        return new RunOptions(returnType, value, paddingSide, stopAtLayer, removeBatchDim, lossPerToken);
    }

    public RunOptions withPaddingSide(String value) {
        return new RunOptions(returnType, prependBos, value, stopAtLayer, removeBatchDim, lossPerToken);
    }

    public RunOptions withStopAtLayer(Integer value) {
        return new RunOptions(returnType, prependBos, paddingSide, value, removeBatchDim, lossPerToken);
    }

    public RunOptions withRemoveBatchDim(boolean value) {
        return new RunOptions(returnType, prependBos, paddingSide, stopAtLayer, value, lossPerToken);
    }

    public RunOptions withLossPerToken(boolean value) {
        return new RunOptions(returnType, prependBos, paddingSide, stopAtLayer, removeBatchDim, value);
    }
}
